// The disk cache's content checksum: 128 bits over a file's body, to catch a torn,
// truncated or bit-flipped file (not an adversary: the structural checks of each
// decoder are what keep a crafted file safe).
//
// Eight independent lanes each take one 8-byte word of every 64-byte stripe
// (rotate, xor, multiply by an odd constant: a bijection per word, so a change in one
// word always changes its lane), which keeps eight multiplies in flight: an 8 MB run
// entry checks in ≈ 0.3 ms where MurmurHash3-128, one dependent chain, took ≈ 1 ms
// (docs/performance.md, issue 15, target 2). The tail words and bytes and the length
// go into the finish, and the lanes are mixed into two words by MurmurHash3's fmix.
//
// Invariant: the result depends only on the concatenation of the bytes given, not on
// how update() calls split them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cache/block_stream.hpp"
#include "cache/key.hpp"

namespace phasic {

class ContentChecksum {
 public:
  void update(const void* data, std::size_t length);
  Key finish() const;

 private:
  void stripe(const unsigned char* p);
  std::uint64_t lane_[8] = {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL,
                            0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL, 0xc0ac29b7c97c50ddULL, 0x3f84d5b5b5470917ULL};
  BlockStream<64> bytes_;
};

Key content_checksum(const void* data, std::size_t length);

}  // namespace phasic
