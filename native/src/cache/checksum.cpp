// The eight-lane content checksum of checksum.hpp.
#include "cache/checksum.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace phasic {
namespace {

constexpr std::uint64_t kPrime = 0x9E3779B97F4A7C15ULL;

std::uint64_t word(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

std::uint64_t step(std::uint64_t lane, std::uint64_t w) { return std::rotl(lane ^ w, 29) * kPrime; }

}  // namespace

void ContentChecksum::stripe(const unsigned char* p) {
  for (int j = 0; j < 8; ++j) lane_[j] = step(lane_[j], word(p + 8 * j));
}

void ContentChecksum::update(const void* data, std::size_t length) {
  bytes_.append(data, length, [this](const unsigned char* p) { stripe(p); });
}

Key ContentChecksum::finish() const {
  std::uint64_t lane[8];
  std::copy(std::begin(lane_), std::end(lane_), lane);
  // The tail: whole words into their lanes, then the bytes left (zero-padded, with the
  // length below telling "abc" from "abc\0").
  const unsigned char* tail = bytes_.tail();
  const std::size_t tail_size = bytes_.tail_size();
  std::size_t i = 0;
  for (int j = 0; i + 8 <= tail_size; i += 8, ++j) lane[j] = step(lane[j], word(tail + i));
  if (i < tail_size) {
    unsigned char last[8] = {};
    std::memcpy(last, tail + i, tail_size - i);
    lane[7] = step(lane[7], word(last));
  }
  std::uint64_t h1 = bytes_.length(), h2 = ~bytes_.length();
  for (int j = 0; j < 8; ++j) {
    h1 = murmur_fmix(h1 ^ lane[j]) + lane[(j + 3) & 7];
    h2 = murmur_fmix(h2 + lane[j]) ^ std::rotl(lane[(j + 5) & 7], 17);
  }
  return Key{murmur_fmix(h1 + h2), murmur_fmix(h2 ^ (h1 * kPrime))};
}

Key content_checksum(const void* data, std::size_t length) {
  ContentChecksum c;
  c.update(data, length);
  return c.finish();
}

}  // namespace phasic
