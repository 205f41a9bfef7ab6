// Evaluation scratch: an uninitialized array counted in Category::Evaluation, shared by
// evaluate.cpp and gradient.cpp.
//
// Invariants: the bytes are on the ledger from construction to destruction (also when
// the owner unwinds by an exception); entries are not initialized (callers write
// every entry before reading it, or call zero()), because zero-filling scratch the
// replay overwrites anyway would only cost time. An array of at least kHugeScratchBytes
// is a mapping of its own in 2 MB pages (allocate_large, memory/accounting.hpp), and
// is then zero until first written (fresh_mapping()).
#pragma once

#include <algorithm>
#include <cstddef>
#include <new>

#include "memory/accounting.hpp"

namespace phasic {

// Why a mapping of its own: each evaluation allocates and frees its scratch, and on
// the largest models (rabbits N = 1000, batch of 8: 128 MB of solution vectors) that
// is above what malloc ever keeps, so every call took ≈ 31,000 first-touch faults of
// 4 KB, ≈ 19 µs each on the VM of docs/performance.md — more than the evaluation
// itself. In 2 MB pages the same memory is 64 faults and the kernel's zeroing.
// Below this size malloc reuses freed memory between calls, which no mapping beats.
constexpr std::size_t kHugeScratchBytes = std::size_t(32) << 20;

template <class T>
class EvaluationScratch {
 public:
  explicit EvaluationScratch(std::size_t n) : n_(n) {
    const std::size_t bytes = n * sizeof(T);
    ledger().add(Category::Evaluation, bytes);
    try {
      if (bytes >= kHugeScratchBytes) {
        p_ = static_cast<T*>(allocate_large(bytes));
        fresh_ = true;
      } else {
        p_ = static_cast<T*>(::operator new(bytes));
      }
    } catch (...) {
      ledger().remove(Category::Evaluation, bytes);
      throw;
    }
  }
  ~EvaluationScratch() {
    const std::size_t bytes = n_ * sizeof(T);
    ledger().remove(Category::Evaluation, bytes);
    if (fresh_)
      free_large(p_, bytes);
    else
      ::operator delete(p_);
  }
  EvaluationScratch(const EvaluationScratch&) = delete;
  EvaluationScratch& operator=(const EvaluationScratch&) = delete;
  T* data() { return p_; }
  const T* data() const { return p_; }
  T& operator[](std::size_t i) { return p_[i]; }
  std::size_t size() const { return n_; }
  void zero() { std::fill(p_, p_ + n_, T()); }
  // The array is a fresh mapping, so every entry is 0 until the owner first writes it.
  bool fresh_mapping() const { return fresh_; }

 private:
  std::size_t n_;
  T* p_ = nullptr;
  bool fresh_ = false;
};

}  // namespace phasic
