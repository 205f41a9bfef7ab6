// Which vector width the evaluation kernels run at, chosen once per process from the
// CPU (run-time dispatch): the engine is built for baseline x86-64 (SSE2), and the hot
// kernels are compiled a second and third time for AVX2 and AVX-512F
// (trace/dense_lu_kernel.inc, trace/lane_kernels.inc), which this picks between.
//
// Invariants: every level computes the same IEEE operations in the same order per
// value, so results are bit-identical whichever level runs (no FMA is ever enabled:
// a fused multiply-add rounds once where the baseline rounds twice). simd_level() never
// names a level the CPU (and its OS) cannot run. Off x86-64 GCC, or on a CPU without
// AVX2, it is always sse2 (there: the portable build).
#pragma once

#include <cstdint>

// Whether the wide paths are compiled: GCC on x86-64, whose `#pragma GCC target`
// compiles a region for an ISA the rest of the build does not assume. Each such region
// also says `optimize("fp-contract=off")`: GCC contracts a·b + c into one FMA in C++
// whenever the target has FMA (AVX-512F does), which would change the bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PHASIC_SIMD_DISPATCH 1
#else
#define PHASIC_SIMD_DISPATCH 0
#endif

namespace phasic {

enum class SimdLevel : std::uint8_t { sse2 = 0, avx2 = 1, avx512 = 2 };

// The widest level this CPU supports that the kernels are compiled for.
SimdLevel detected_simd_level();

// The level the kernels use: detected_simd_level(), capped by limit_simd_level.
SimdLevel simd_level();

// Caps simd_level() at `level` (never above what the CPU has), for tests that compare
// the paths and for the benchmark's paired runs; detected_simd_level() lifts the cap.
// Not meant to change while an evaluation runs.
void limit_simd_level(SimdLevel level);

const char* simd_level_name(SimdLevel level);

}  // namespace phasic
