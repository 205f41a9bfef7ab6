// Evaluation scratch: an uninitialized array counted in Category::Evaluation, shared by
// evaluate.cpp and gradient.cpp.
//
// Invariants: the bytes are on the ledger from construction to destruction (also when
// the owner unwinds by an exception); entries are not initialized (callers write
// every entry before reading it, or call zero()), because zero-filling scratch the
// replay overwrites anyway would only cost time.
#pragma once

#include <algorithm>
#include <cstddef>

#include "memory/accounting.hpp"

namespace phasic {

template <class T>
class EvaluationScratch {
 public:
  explicit EvaluationScratch(std::size_t n) : n_(n), p_(Allocator().allocate(n)) {}
  ~EvaluationScratch() { Allocator().deallocate(p_, n_); }
  EvaluationScratch(const EvaluationScratch&) = delete;
  EvaluationScratch& operator=(const EvaluationScratch&) = delete;
  T* data() { return p_; }
  const T* data() const { return p_; }
  T& operator[](std::size_t i) { return p_[i]; }
  std::size_t size() const { return n_; }
  void zero() { std::fill(p_, p_ + n_, T()); }

 private:
  using Allocator = CountedAllocator<T, Category::Evaluation>;
  std::size_t n_;
  T* p_;
};

}  // namespace phasic
