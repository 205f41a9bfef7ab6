// MurmurHash3 x64_128 (Austin Appleby, public domain), restated as a streaming
// hasher: whole 16-byte blocks are mixed as they arrive, the tail and the length in
// finish(). See key.hpp for the invariant.
#include "cache/key.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace phasic {
namespace {

constexpr std::uint64_t kC1 = 0x87c37b91114253d5ULL;
constexpr std::uint64_t kC2 = 0x4cf5ad432745937fULL;

std::uint64_t load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

}  // namespace

void Hasher::block(const unsigned char* b) {
  std::uint64_t k1 = load64(b), k2 = load64(b + 8);
  k1 *= kC1;
  k1 = std::rotl(k1, 31);
  k1 *= kC2;
  h1_ ^= k1;
  h1_ = std::rotl(h1_, 27);
  h1_ += h2_;
  h1_ = h1_ * 5 + 0x52dce729;
  k2 *= kC2;
  k2 = std::rotl(k2, 33);
  k2 *= kC1;
  h2_ ^= k2;
  h2_ = std::rotl(h2_, 31);
  h2_ += h1_;
  h2_ = h2_ * 5 + 0x38495ab5;
}

void Hasher::update(const void* data, std::size_t length) {
  bytes_.append(data, length, [this](const unsigned char* b) { block(b); });
}

Key Hasher::finish() const {
  std::uint64_t h1 = h1_, h2 = h2_, k1 = 0, k2 = 0;
  const unsigned char* tail = bytes_.tail();
  switch (bytes_.tail_size()) {
    case 15: k2 ^= std::uint64_t(tail[14]) << 48; [[fallthrough]];
    case 14: k2 ^= std::uint64_t(tail[13]) << 40; [[fallthrough]];
    case 13: k2 ^= std::uint64_t(tail[12]) << 32; [[fallthrough]];
    case 12: k2 ^= std::uint64_t(tail[11]) << 24; [[fallthrough]];
    case 11: k2 ^= std::uint64_t(tail[10]) << 16; [[fallthrough]];
    case 10: k2 ^= std::uint64_t(tail[9]) << 8; [[fallthrough]];
    case 9:
      k2 ^= std::uint64_t(tail[8]);
      k2 *= kC2;
      k2 = std::rotl(k2, 33);
      k2 *= kC1;
      h2 ^= k2;
      [[fallthrough]];
    case 8: k1 ^= std::uint64_t(tail[7]) << 56; [[fallthrough]];
    case 7: k1 ^= std::uint64_t(tail[6]) << 48; [[fallthrough]];
    case 6: k1 ^= std::uint64_t(tail[5]) << 40; [[fallthrough]];
    case 5: k1 ^= std::uint64_t(tail[4]) << 32; [[fallthrough]];
    case 4: k1 ^= std::uint64_t(tail[3]) << 24; [[fallthrough]];
    case 3: k1 ^= std::uint64_t(tail[2]) << 16; [[fallthrough]];
    case 2: k1 ^= std::uint64_t(tail[1]) << 8; [[fallthrough]];
    case 1:
      k1 ^= std::uint64_t(tail[0]);
      k1 *= kC1;
      k1 = std::rotl(k1, 31);
      k1 *= kC2;
      h1 ^= k1;
  }
  h1 ^= bytes_.length();
  h2 ^= bytes_.length();
  h1 += h2;
  h2 += h1;
  h1 = murmur_fmix(h1);
  h2 = murmur_fmix(h2);
  h1 += h2;
  h2 += h1;
  return Key{h1, h2};
}

Key hash128(const void* data, std::size_t length, std::uint64_t seed) {
  Hasher h(seed);
  h.update(data, length);
  return h.finish();
}

void Key::hex(char (&out)[32]) const {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = digits[(h1 >> (4 * i)) & 15];
    out[31 - i] = digits[(h2 >> (4 * i)) & 15];
  }
}

std::string Key::hex() const {
  char digits[32];
  hex(digits);
  return std::string(digits, sizeof digits);
}

bool Key::parse(std::string_view hex, Key& out) {
  if (hex.size() != 32) return false;
  std::uint64_t parts[2] = {0, 0};
  for (int i = 0; i < 32; ++i) {
    const char c = hex[i];
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else
      return false;
    parts[i / 16] = (parts[i / 16] << 4) | std::uint64_t(v);
  }
  out = Key{parts[0], parts[1]};
  return true;
}

}  // namespace phasic
