// The transposed solve with a dense part's LU factors: the two substitutions of
// solve_dense run backwards, each row of a factor scattered into y as one update.
#include "trace/dense_block_gradient.hpp"

#include <cstddef>

namespace phasic {

namespace {

// y[q] += a·row[q] for q in [begin, end).
inline void scatter_row(double* __restrict y, double a, const double* __restrict row, std::size_t begin,
                        std::size_t end) {
  for (std::size_t q = begin; q < end; ++q) y[q] += a * row[q];
}

}  // namespace

void transpose_solve_dense(std::uint32_t r, const double* matrix, const double* inverse, const std::uint32_t* extent,
                           double* y) {
  const std::size_t n = std::size_t(r) + 1;
  // Back substitution ran p = r−1..0 as y_p = (y_p + Σ_q U_pq y_q)·inv_p; its adjoint
  // runs p = 0..r−1: ā_p = ȳ_p·inv_p, then ȳ_q += U_pq·ā_p (q > p, still to come).
  for (std::uint32_t p = 0; p < r; ++p) {
    const double a = y[p] * inverse[p];
    y[p] = a;
    scatter_row(y, a, matrix + p * n, extent[3 * p + 1], extent[3 * p + 2]);
  }
  // Forward substitution ran p = 1..r−1 as y_p += Σ_(k<p) L_pk y_k; its adjoint runs
  // p = r−1..1: ȳ_k += L_pk·ȳ_p (k < p, whose ȳ is not final yet).
  for (std::uint32_t p = r; p-- > 1;) scatter_row(y, y[p], matrix + p * n, extent[3 * p], p);
}

}  // namespace phasic
