// Bytes arriving in pieces, cut into whole blocks of N bytes for a block-wise hash
// (the cache key's MurmurHash3 takes 16-byte blocks, the content checksum 64-byte
// stripes).
//
// Invariant: the blocks handed to append()'s callback, in order, followed by tail(),
// are the concatenation of every piece appended, however the pieces were split;
// length() counts every byte appended. This is what makes both hashes independent of
// how their update() calls split the bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace phasic {

template <std::size_t N>
class BlockStream {
 public:
  // Calls block(p), p pointing at N bytes, for each block the piece completes.
  template <class Block>
  void append(const void* data, std::size_t length, Block&& block) {
    if (length == 0) return;  // an empty view's data() may be null, which memcpy must never be given
    auto p = static_cast<const unsigned char*>(data);
    length_ += length;
    if (tail_size_ > 0) {
      const std::size_t take = std::min(length, N - tail_size_);
      std::memcpy(tail_ + tail_size_, p, take);
      tail_size_ += take;
      p += take;
      length -= take;
      if (tail_size_ < N) return;
      block(static_cast<const unsigned char*>(tail_));
      tail_size_ = 0;
    }
    for (; length >= N; p += N, length -= N) block(p);
    std::memcpy(tail_, p, length);
    tail_size_ = length;
  }

  const unsigned char* tail() const { return tail_; }
  std::size_t tail_size() const { return tail_size_; }
  std::uint64_t length() const { return length_; }

 private:
  unsigned char tail_[N];
  std::size_t tail_size_ = 0;
  std::uint64_t length_ = 0;
};

}  // namespace phasic
