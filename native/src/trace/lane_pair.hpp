// Two lanes of doubles as one SSE2 value, for the evaluation kernels' inner loops.
//
// Invariant: every operation on a Pair is the same IEEE operation on each lane, in the
// same order as the scalar code it replaces, so results are bit-identical to it. Loads
// and stores go through memcpy: lane arrays are only 8-byte aligned.
#pragma once

#include <cstring>

namespace phasic {

using Pair = double __attribute__((vector_size(16)));

inline Pair load_pair(const double* p) {
  Pair r;
  std::memcpy(&r, p, sizeof r);
  return r;
}

inline void store_pair(double* p, Pair x) { std::memcpy(p, &x, sizeof x); }

}  // namespace phasic
