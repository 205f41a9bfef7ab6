// The dense LU of a block's filled-in part, row by row (each row takes every earlier
// row's update in elimination order, then its own λ), and its two triangular solves.
#include "trace/dense_block_evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "trace/lane_pair.hpp"

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

// dst[e] += m[e mod W] · src[e] over `count` entries of W lanes.
template <std::uint32_t W>
inline void add_scaled(double* __restrict dst, const double* __restrict src, const double* m, std::size_t count) {
  if constexpr (W == 1) {
    const Pair mm = {m[0], m[0]};
    std::size_t e = 0;
    for (; e + 4 <= count; e += 4) {
      store_pair(dst + e, load_pair(dst + e) + mm * load_pair(src + e));
      store_pair(dst + e + 2, load_pair(dst + e + 2) + mm * load_pair(src + e + 2));
    }
    for (; e < count; ++e) dst[e] += m[0] * src[e];
  } else {
    static_assert(W % 2 == 0);
    Pair mm[W / 2];
    for (std::uint32_t h = 0; h < W / 2; ++h) mm[h] = load_pair(m + 2 * h);
    for (std::size_t q = 0; q < count; ++q)
      for (std::uint32_t h = 0; h < W / 2; ++h) {
        double* d = dst + q * W + 2 * h;
        store_pair(d, load_pair(d) + mm[h] * load_pair(src + q * W + 2 * h));
      }
  }
}

// Σ_{q ∈ [begin, end)} a[q]·b[q] per lane (b = null: Σ a[q]) in four partial sums by
// q mod 4, combined as (s0 + s1) + (s2 + s3): independent chains, and the same split
// whatever range a caller passes around the same non-zero terms.
template <std::uint32_t W, bool kProduct>
inline double term(const double* a, const double* b, std::size_t e) {
  if constexpr (kProduct)
    return a[e] * b[e];
  else
    return a[e];
}
template <std::uint32_t W, bool kProduct>
inline void partial_sums(const double* a, const double* b, std::uint32_t begin, std::uint32_t end, double* out) {
  // Named accumulators, not s[q & 3]: an indexed array stays in memory, and each add
  // then waits for the store of the one before.
  double s0[W] = {}, s1[W] = {}, s2[W] = {}, s3[W] = {};
  double* s[4] = {s0, s1, s2, s3};
  std::uint32_t q = begin;
  for (; q < end && (q & 3) != 0; ++q)
    for (std::uint32_t l = 0; l < W; ++l) s[q & 3][l] += term<W, kProduct>(a, b, std::size_t(q) * W + l);
  for (; q + 4 <= end; q += 4)
    for (std::uint32_t l = 0; l < W; ++l) {
      s0[l] += term<W, kProduct>(a, b, std::size_t(q) * W + l);
      s1[l] += term<W, kProduct>(a, b, std::size_t(q + 1) * W + l);
      s2[l] += term<W, kProduct>(a, b, std::size_t(q + 2) * W + l);
      s3[l] += term<W, kProduct>(a, b, std::size_t(q + 3) * W + l);
    }
  for (; q < end; ++q)
    for (std::uint32_t l = 0; l < W; ++l) s[q & 3][l] += term<W, kProduct>(a, b, std::size_t(q) * W + l);
  for (std::uint32_t l = 0; l < W; ++l) out[l] = (s0[l] + s1[l]) + (s2[l] + s3[l]);
}

template <std::uint32_t W>
inline bool all_zero(const double* a) {
  bool zero = true;
  for (std::uint32_t l = 0; l < W; ++l) zero &= a[l] == 0;
  return zero;
}

}  // namespace

bool worth_dense_evaluation(std::uint32_t r, std::uint64_t ops) {
  return r >= kMinDenseVertices && ops >= kMinOpsPerEntry * r * r;
}

bool evaluate_densely(const DenseTail& tail, std::uint32_t lanes) {
  return tail.size > 0 && dense_matrix_doubles(tail.size) * lanes * sizeof(double) <= kMaxMatrixBytes;
}

template <std::uint32_t W>
bool factor_dense(const DenseTail& tail, const double* values, double* matrix, double* inverse, std::uint32_t* extent) {
  const std::uint32_t r = tail.size;
  const std::size_t n = std::size_t(r) + 1;  // row length: r weights and the leave weight
  std::fill(matrix, matrix + n * r * W, 0.0);
  for (const DenseEntry& e : tail.entries)
    for (std::uint32_t l = 0; l < W; ++l) matrix[(e.row * n + e.column) * W + l] = values[std::size_t(e.slot) * W + l];
  // extent[3p + 1], extent[3p + 2]: the first and one past the last column in (p, r) of
  // row p that is non-zero in some lane once the row is final, so updates by row p
  // cover only those (elsewhere they would add m·0 = 0) and its leave weight;
  // extent[3p]: its first non-zero multiplier (p when none), where its forward sum starts.
  for (std::uint32_t i = 0; i < r; ++i) {
    double* row = matrix + i * n * W;
    extent[3 * i] = i;
    for (std::uint32_t j = 0; j < i; ++j) {
      double* a = row + std::size_t(j) * W;
      if (all_zero<W>(a)) continue;
      extent[3 * i] = std::min(extent[3 * i], j);
      double m[W];
      for (std::uint32_t l = 0; l < W; ++l) a[l] = m[l] = a[l] * inverse[std::size_t(j) * W + l];
      const double* pivot_row = matrix + j * n * W;
      const std::size_t begin = extent[3 * j + 1], end = extent[3 * j + 2];
      if (end > begin) add_scaled<W>(row + begin * W, pivot_row + begin * W, m, end - begin);
      add_scaled<W>(row + std::size_t(r) * W, pivot_row + std::size_t(r) * W, m, 1);
    }
    std::uint32_t begin = i + 1, end = r;
    while (end > begin && all_zero<W>(row + std::size_t(end - 1) * W)) --end;
    while (begin < end && all_zero<W>(row + std::size_t(begin) * W)) ++begin;
    extent[3 * i + 1] = begin;
    extent[3 * i + 2] = end;
    double lambda[W];
    partial_sums<W, false>(row, nullptr, begin, end, lambda);
    for (std::uint32_t l = 0; l < W; ++l) {
      lambda[l] += row[std::size_t(r) * W + l];
      if (!(lambda[l] > 0 && lambda[l] < std::numeric_limits<double>::infinity())) return false;
      inverse[std::size_t(i) * W + l] = 1.0 / lambda[l];
    }
  }
  return true;
}

template <std::uint32_t W>
void solve_dense(std::uint32_t r, const double* matrix, const double* inverse, const std::uint32_t* extent, double* y) {
  const std::size_t n = std::size_t(r) + 1;
  double sum[W];
  for (std::uint32_t p = 1; p < r; ++p) {
    partial_sums<W, true>(matrix + p * n * W, y, extent[3 * p], p, sum);
    for (std::uint32_t l = 0; l < W; ++l) y[std::size_t(p) * W + l] += sum[l];
  }
  for (std::uint32_t p = r; p-- > 0;) {
    partial_sums<W, true>(matrix + p * n * W, y, extent[3 * p + 1], extent[3 * p + 2], sum);
    for (std::uint32_t l = 0; l < W; ++l)
      y[std::size_t(p) * W + l] = (y[std::size_t(p) * W + l] + sum[l]) * inverse[std::size_t(p) * W + l];
  }
}

template bool factor_dense<1>(const DenseTail&, const double*, double*, double*, std::uint32_t*);
template bool factor_dense<8>(const DenseTail&, const double*, double*, double*, std::uint32_t*);
template void solve_dense<1>(std::uint32_t, const double*, const double*, const std::uint32_t*, double*);
template void solve_dense<8>(std::uint32_t, const double*, const double*, const std::uint32_t*, double*);

}  // namespace phasic
