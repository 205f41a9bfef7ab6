// The dense LU of a block's filled-in part, row by row (each row takes every earlier
// row's update in elimination order, then its own λ), and its two triangular solves.
#include "trace/dense_block_evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/simd.hpp"

namespace phasic {

namespace {

// The dense path costs O(r²) whatever the fill (filling and scanning the matrix, and
// each solve's substitutions), and each update it does costs ≈ a fifth of a replayed
// op but it does more of them than the recorder (whole spans between a row's first
// and last non-zero). Measured (docs/performance.md "Target 3"): parts that hand over
// barely filled in, with fewer than ≈ 4 ops per matrix entry (two-locus n = 8 and 9,
// structured n = 6 d = 4: 1–3), evaluated 20–40 % slower densely; parts above it
// (structured n = 8 d = 4 at r = 98 and 125, d = 5 at 4–21) faster.
constexpr std::uint32_t kMinDenseVertices = 32;
constexpr std::uint64_t kMinOpsPerEntry = 4;
// One lane group's matrix is at most this large; a larger dense part is replayed (its
// ops are kept in the trace for the gradient anyway).
constexpr std::size_t kMaxMatrixBytes = std::size_t(64) << 20;

}  // namespace

bool worth_dense_evaluation(std::uint32_t r, std::uint64_t ops) {
  return r >= kMinDenseVertices && ops >= kMinOpsPerEntry * r * r;
}

bool evaluate_densely(const DenseTail& tail, std::uint32_t lanes) {
  return tail.size > 0 && dense_matrix_doubles(tail.size) * lanes * sizeof(double) <= kMaxMatrixBytes;
}

// The kernels once per vector width (dense_lu_kernel.inc); the wide ones are compiled
// for their ISA only, and run only on a CPU that has it (base/simd.hpp).
namespace {
namespace sse2 {
constexpr std::uint32_t kLaneDoubles = 2;
#include "trace/dense_lu_kernel.inc"
}  // namespace sse2
}  // namespace
#if PHASIC_SIMD_DISPATCH
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx2")
namespace {
namespace avx2 {
constexpr std::uint32_t kLaneDoubles = 4;
#include "trace/dense_lu_kernel.inc"
}  // namespace avx2
}  // namespace
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx512f")
namespace {
namespace avx512 {
constexpr std::uint32_t kLaneDoubles = 8;
#include "trace/dense_lu_kernel.inc"
}  // namespace avx512
}  // namespace
#pragma GCC pop_options
#endif

// The width each lane count runs at. Measured on structured n = 8 d = 5 (AMD EPYC with
// AVX-512F, docs/performance.md "Target 3", fifth round): one θ 2.35 ms at SSE2,
// 1.89 at AVX2, 2.08 at AVX-512 (its spans between a row's first and last non-zero
// are often shorter than the 16 columns of its unrolled step, which then run scalar);
// 8 lanes 0.39, 0.33, 0.27 ns/op per vector (a column's 8 lanes are one 512-bit value).
template <std::uint32_t W>
SimdLevel level_for() {
  const SimdLevel level = simd_level();
  return W == 1 && level == SimdLevel::avx512 ? SimdLevel::avx2 : level;
}

template <std::uint32_t W>
bool factor_dense(const DenseTail& tail, const double* values, double* matrix, double* inverse, std::uint32_t* extent) {
#if PHASIC_SIMD_DISPATCH
  switch (level_for<W>()) {
    case SimdLevel::avx512: return avx512::factor_dense<W>(tail, values, matrix, inverse, extent);
    case SimdLevel::avx2: return avx2::factor_dense<W>(tail, values, matrix, inverse, extent);
    default: break;
  }
#endif
  return sse2::factor_dense<W>(tail, values, matrix, inverse, extent);
}

template <std::uint32_t W>
void solve_dense(std::uint32_t r, const double* matrix, const double* inverse, const std::uint32_t* extent, double* y) {
#if PHASIC_SIMD_DISPATCH
  switch (level_for<W>()) {
    case SimdLevel::avx512: return avx512::solve_dense<W>(r, matrix, inverse, extent, y);
    case SimdLevel::avx2: return avx2::solve_dense<W>(r, matrix, inverse, extent, y);
    default: break;
  }
#endif
  sse2::solve_dense<W>(r, matrix, inverse, extent, y);
}

template bool factor_dense<1>(const DenseTail&, const double*, double*, double*, std::uint32_t*);
template bool factor_dense<8>(const DenseTail&, const double*, double*, double*, std::uint32_t*);
template void solve_dense<1>(std::uint32_t, const double*, const double*, const std::uint32_t*, double*);
template void solve_dense<8>(std::uint32_t, const double*, const double*, const std::uint32_t*, double*);

}  // namespace phasic
