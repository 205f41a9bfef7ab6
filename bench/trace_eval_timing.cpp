// Quick timing of trace evaluation (not a test): ns per trace operation for single
// and batched θ on the hand-built rabbits model. Build and run from the repo root:
//   g++ -std=c++20 -O3 -Inative/src -Inative/test bench/trace_eval_timing.cpp \
//       native/src/memory/accounting.cpp native/src/trace/*.cpp -o /tmp/trace_eval_timing
//   /tmp/trace_eval_timing [N ...]
// Work per θ = program operations + commands (one reward, one moment: one solve).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "trace/evaluate.hpp"
#include "trace_fixtures.hpp"

using namespace phasic;
using Clock = std::chrono::steady_clock;

// Process CPU time, so a loaded machine does not inflate the numbers.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

template <class F>
double seconds_per_call(F f) {
  int calls = 1;
  for (;;) {
    const double start = cpu_seconds();
    for (int i = 0; i < calls; ++i) f();
    const double s = cpu_seconds() - start;
    if (s > 0.3) return s / calls;
    calls *= 2;
  }
}

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {20, 100, 300};
  for (int N : sizes) {
    const Graph g = fixtures::rabbits(N);
    const auto t0 = Clock::now();
    const Condensation c = condense(g);
    const ModelTrace t = compose(g, c, {});
    const double record_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const double work = double(t.operations() + t.commands());
    const std::vector<double> theta{1.0, 2.0, 4.0};
    double sink = 0;
    const double single = seconds_per_call([&] { sink += evaluate(t, theta, 1).moment(0, 1); });
    std::printf("rabbits N=%d: %u vertices, %zu blocks, %llu ops + %llu commands, recorded in %.1f ms\n", N,
                g.vertex_count, t.blocks.size(), (unsigned long long)t.operations(), (unsigned long long)t.commands(),
                record_ms);
    std::printf("  single θ: %.3f ms per evaluation, %.2f ns/op\n", single * 1e3, single * 1e9 / work);
    for (std::uint32_t B : {8u, 64u}) {
      std::vector<double> thetas;
      for (std::uint32_t b = 0; b < B; ++b) thetas.insert(thetas.end(), {1.0 + 0.01 * b, 2.0, 4.0});
      const SolutionPlacement placement(t);  // kept beside the trace, as the engine's cache does
      const PlacementSource kept = [&](const ModelTrace&) -> const SolutionPlacement& { return placement; };
      const double batch = seconds_per_call([&] { sink += evaluate_batch(t, kept, thetas, B, 1)[0].moment(0, 1); });
      std::printf("  batch of %u: %.3f ms, %.3f ns/op/vector\n", B, batch * 1e3, batch * 1e9 / work / B);
    }
    if (sink == 42) std::puts("");
  }
}
