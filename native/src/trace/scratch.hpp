// Evaluation scratch: an uninitialized array counted in Category::Evaluation, shared by
// evaluate.cpp and gradient.cpp.
//
// Invariants: the bytes are on the ledger in Category::Evaluation from construction to
// destruction (also when the owner unwinds by an exception); entries are not
// initialized (callers write every entry before reading it, or call zero()), because
// zero-filling scratch the replay overwrites anyway would only cost time. An array of
// at least kHugeScratchBytes is a RetainedRegion (memory/accounting.hpp): its 2 MB
// pages stay mapped after the call, as Category::Workspace, for the next evaluation;
// fresh_mapping() says when it is a new mapping (then zero until first written).
#pragma once

#include <algorithm>
#include <cstddef>
#include <new>
#include <optional>

#include "memory/accounting.hpp"

namespace phasic {

// Why large scratch is retained: each evaluation allocates and frees its scratch, and
// on the largest models (rabbits N = 1000, batch of 8: 128 MB of solution vectors;
// structured n = 8 d = 5, batch of 8: 172 MB) that is above what malloc ever keeps, so
// every call took a first-touch fault per 4 KB page (≈ 19 µs each on the VM of
// docs/performance.md), more than the evaluation itself; mapped fresh in 2 MB pages
// it still paid the kernel's zeroing of every page at each call. Kept between calls
// (decision 47), a repeated evaluation finds its pages in place.
// Below this size malloc reuses freed memory between calls, which no mapping beats.
constexpr std::size_t kHugeScratchBytes = std::size_t(32) << 20;

template <class T>
class EvaluationScratch {
 public:
  explicit EvaluationScratch(std::size_t n) : n_(n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kHugeScratchBytes) {
      region_.emplace(bytes, Category::Evaluation);
      p_ = static_cast<T*>(region_->data());
      return;
    }
    ledger().add(Category::Evaluation, bytes);
    try {
      p_ = static_cast<T*>(::operator new(bytes));
    } catch (...) {
      ledger().remove(Category::Evaluation, bytes);
      throw;
    }
  }
  ~EvaluationScratch() {
    if (region_) return;  // the region uncounts and keeps itself
    ledger().remove(Category::Evaluation, n_ * sizeof(T));
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
  bool fresh_mapping() const { return region_ && region_->fresh(); }

 private:
  std::size_t n_;
  T* p_ = nullptr;
  std::optional<RetainedRegion> region_;
};

}  // namespace phasic
