// CPU detection for the evaluation kernels' run-time dispatch.
#include "base/simd.hpp"

#include <algorithm>
#include <atomic>

namespace phasic {

namespace {

SimdLevel probe() {
#if PHASIC_SIMD_DISPATCH
  // libgcc's probe checks the OS saves the wide registers (XCR0) as well as CPUID.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SimdLevel::avx512;
  if (__builtin_cpu_supports("avx2")) return SimdLevel::avx2;
#endif
  return SimdLevel::sse2;
}

std::atomic<std::uint8_t> cap{std::uint8_t(SimdLevel::avx512)};

}  // namespace

SimdLevel detected_simd_level() {
  static const SimdLevel level = probe();
  return level;
}

SimdLevel simd_level() {
  return SimdLevel(std::min(std::uint8_t(detected_simd_level()), cap.load(std::memory_order_relaxed)));
}

void limit_simd_level(SimdLevel level) { cap.store(std::uint8_t(level), std::memory_order_relaxed); }

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::avx2: return "avx2";
    case SimdLevel::avx512: return "avx512";
    default: return "sse2";
  }
}

}  // namespace phasic
