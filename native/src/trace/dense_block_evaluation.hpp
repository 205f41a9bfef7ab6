// Dense evaluation of a block's filled-in part: the elimination the dense kernel
// recorded (dense_elimination.hpp), redone for θ as an LU of a dense matrix in tight
// loops over contiguous rows instead of a replay of its recorded ops one by one.
//
// Why: the replay of a filled-in block is a chain of dependent multiply-adds read
// through indirect slots (≈ 1.7 ns an op on structured n = 8 d = 5); the same updates
// as rows of a dense matrix are independent along the row, so they run at the
// machine's throughput (several per ns), even counting the structural zeros the
// recorded ops skip.
//
// The algorithm is the recorded one, GTH-style: positions p = 0..r−1 in the recorded
// elimination order (no pivoting, as the sparse path); row p holds p's weights to the
// others, column r its leave weight. At step k: λ_k = Σ_{q > k} A[k][q] (the leave
// column included), inv_k = 1/λ_k; each later row i gets m = A[i][k]·inv_k, stored in
// A[i][k], and A[i][q] += m·A[k][q] for q > k. A[i][i] collects the loop m·w_ki that
// the recorder drops; it is never read. Nothing is subtracted and every value is a
// sum, product or reciprocal of non-negative numbers, so the stability argument of
// block_trace.hpp holds unchanged: no pivot can be small relative to its row, because
// λ is computed as the sum of the row, not as a difference on the diagonal.
// What differs from the replay is the order of summation (λ and the solves' sums in
// four partial sums by column mod 4), so results agree with it to rounding, not bit
// for bit.
//
// Solves: forward substitution y_p += Σ_{k<p} A[p][k]·y_k (the recorded forward
// commands of the dense part, by rows), then back substitution
// y_p = (y_p + Σ_{p<q<r} A[p][q]·y_q)·inv_p for p = r−1..0 (its solve commands).
//
// Invariants: W lanes are stored interleaved (matrix[(p·(r+1) + q)·W + l]); lane l
// computes exactly what W = 1 computes for its θ, operation for operation (a row
// update skipped because its multiplier is 0 in every lane adds +0 to finite values,
// and sums are split by absolute column), so batches and single evaluations agree bit
// for bit. factor_dense returns false, leaving the caller to replay the recorded ops,
// when some λ is not positive and finite (a zero total rate, whose 1/0 the replay's
// arithmetic handles, or an overflow, which the replay reports).
// The kernels run at the widest vector width the CPU has (base/simd.hpp: SSE2, AVX2 or
// AVX-512F, chosen per call); every width computes the same operations in the same
// order, so the bits do not depend on the machine.
#pragma once

#include <cstddef>
#include <cstdint>

#include "trace/block_trace.hpp"

namespace phasic {

// Doubles of scratch one lane needs for the matrix and the inverses of a dense part of r vertices.
inline std::size_t dense_matrix_doubles(std::uint32_t r) { return std::size_t(r) * (r + 1); }

// Whether a dense part of r vertices, recorded as `ops` ops, is factored densely: the
// recorder describes only those (see the .cpp for the measured threshold).
bool worth_dense_evaluation(std::uint32_t r, std::uint64_t ops);

// Whether evaluation with `lanes` lanes takes the dense path for this block: it has a
// described dense part whose matrix fits the scratch limit.
bool evaluate_densely(const DenseTail& tail, std::uint32_t lanes);

// values: the block's value slots, W lanes each (only slots < dot_count + first_op are
// read). matrix: dense_matrix_doubles(r)·W; inverse: r·W; extent: 3·r (each row's
// non-zero columns, for solve_dense).
template <std::uint32_t W>
bool factor_dense(const DenseTail& tail, const double* values, double* matrix, double* inverse, std::uint32_t* extent);

// y: r·W entries, the right-hand side by position; on return x by position. The
// factors and extents are factor_dense's.
template <std::uint32_t W>
void solve_dense(std::uint32_t r, const double* matrix, const double* inverse, const std::uint32_t* extent, double* y);

}  // namespace phasic
