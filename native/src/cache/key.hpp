// Cache keys: a 128-bit MurmurHash3 (x64_128) of the bytes that define what is
// cached, and its hex form, which names the entry in memory and on disk.
//
// Invariant: Hasher fed the same bytes in any split produces the same Key as one
// call of hash128 on their concatenation, so a key can be built incrementally from a
// graph too large to copy. A key alone never proves equality: the caches keep the
// keyed bytes and compare them on every hit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cache/block_stream.hpp"

namespace phasic {

struct Key {
  std::uint64_t h1 = 0, h2 = 0;
  std::string hex() const;          // 32 lowercase hex digits, h1 first
  void hex(char (&out)[32]) const;  // the same digits, without allocating
  static bool parse(std::string_view hex, Key& out);
  friend bool operator==(const Key&, const Key&) = default;
};

// MurmurHash3's 64-bit finalizer: every input bit reaches every output bit. The key's
// two halves end with it, and the disk cache's checksum (checksum.hpp) mixes its lanes
// with it.
constexpr std::uint64_t murmur_fmix(std::uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

struct KeyHash {
  std::size_t operator()(const Key& k) const noexcept {
    return static_cast<std::size_t>(k.h1 ^ (k.h2 * 0x9e3779b97f4a7c15ULL));
  }
};

class Hasher {
 public:
  explicit Hasher(std::uint64_t seed = 0) : h1_(seed), h2_(seed) {}
  void update(const void* data, std::size_t length);
  template <class T>
  void value(const T& v) {
    update(&v, sizeof v);
  }  // host order: the engine runs on little-endian hosts
  Key finish() const;

 private:
  void block(const unsigned char* b);
  std::uint64_t h1_, h2_;
  BlockStream<16> bytes_;
};

Key hash128(const void* data, std::size_t length, std::uint64_t seed = 0);
inline Key hash128(std::string_view bytes) { return hash128(bytes.data(), bytes.size()); }

}  // namespace phasic
