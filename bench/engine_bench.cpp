// The engine benchmark: one compiled model in, one JSON line of measurements out.
//
//   engine_bench --model m.json --label NAME [--reps R] [--min-scc S]
//                [--param name=value]... [--max-states N] [--no-solver]
//                [--solver-reps R] [--solver-max-flops F] [--solver-timeout S]
//   engine_bench --model m.json --label NAME --disk-run DIR [--min-scc S] [--param ...]
//
// --disk-run: one product run in this process with the disk cache in DIR, and nothing
// else: what a new process (the CLI run twice, VS Code reopened) costs. Run it twice
// on one DIR for the second process's figure (docs/performance.md, issue 15). Prints
// the run's own timings, the process's CPU time and its page faults.
//
// What it measures, in this order (the order matters for peak memory: ru_maxrss only
// grows, so the product's own run is measured first, before anything the benchmark
// keeps alive for its phase timings or the sparse solver):
//  1. R cold runs through Engine::run (caches cleared before each): the product path,
//     explore → decompose → record → compose → evaluate, with its per-phase timings.
//     Peak RSS and the ledger's peak are read after the first one.
//  2. R warm runs: the same model again, as a user re-running it with new parameters:
//     the cached run summary and trace are reused, nothing is explored (disk cache off).
//     Then R runs of edited texts of the same model (trailing spaces): explored
//     and decomposed again, with every block trace a memory cache hit.
//  3. The phases one by one on a graph the benchmark holds: explore, condense, record
//     (every block, no cache) and compose; then evaluation of the recorded trace for
//     one θ and for batches of 8 and 64 θ vectors, and the gradient of the moments by
//     every parameter at that θ (its cost as a multiple of one evaluation).
//  4. Sparse direct solvers on −T over the transient states at the same θ: KLU
//     (block triangular form + AMD per block, the closest match to the engine's
//     SCC hierarchy) and UMFPACK with its default strategy and with its symmetric
//     (AMD) strategy: analyse, factorise, solve, flops and nnz(L+U). Each solver's
//     E[time] must equal the trace's to 1e-8 relative, else "MISMATCH" on stderr.
//     Each solver runs in a child process with a time limit, so its memory is its
//     own (reported per solver) and a runaway ordering cannot stall the suite.
//
// Every timing is R repetitions reported as {median, min, max}. Nothing here asserts
// a timing: the runner compares numbers with the targets and reports.
#include <poll.h>
#include <signal.h>
#include <suitesparse/klu.h>
#include <suitesparse/umfpack.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/simd.hpp"
#include "engine/engine.hpp"
#include "engine/json_writer.hpp"
#include "engine/load.hpp"
#include "json/json.hpp"
#include "trace/block.hpp"
#include "trace/block_trace.hpp"
#include "trace/condensation.hpp"
#include "trace/evaluate.hpp"
#include "trace/gradient.hpp"
#include "trace/model_trace.hpp"

using namespace phasic;
using Clock = std::chrono::steady_clock;

namespace {

// Timings are CPU time of this process where the work is single-threaded (recording,
// composition, evaluation, the solvers): the machine is shared, and wall time would
// measure the scheduler as much as the code. Exploration runs on two threads, so it
// and the whole product runs that contain it are also timed in elapsed (wall) time,
// which is what their targets compare.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}
double ms_since(double cpu_start) { return cpu_ms() - cpu_start; }
double wall_ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Options {
  std::string model_path, label;
  int reps = 5;
  std::uint32_t min_scc = 4;  // the product's default (phasic.trace.minSccSize)
  std::uint64_t max_states = 10'000'000;
  NamedValues params;
  bool solver = true;
  int solver_reps = 3;
  double solver_max_flops = 2e10;
  double solver_timeout_s = 180;
  std::string disk_run;  // a cache directory: one run with it, nothing else
  std::string simd;      // cap the kernels' vector width (sse2, avx2, avx512) for paired runs
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "engine_bench: %s\nusage: engine_bench --model m.json --label NAME [--reps R] [--min-scc S] "
               "[--param name=value]... [--max-states N] [--no-solver] [--solver-reps R] [--solver-max-flops F] "
               "[--solver-timeout S] [--simd sse2|avx2|avx512]\n",
               why.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--model")
      o.model_path = next();
    else if (a == "--label")
      o.label = next();
    else if (a == "--reps")
      o.reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--min-scc")
      o.min_scc = static_cast<std::uint32_t>(std::max(2, std::atoi(next().c_str())));
    else if (a == "--max-states")
      o.max_states = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--no-solver")
      o.solver = false;
    else if (a == "--disk-run")
      o.disk_run = next();
    else if (a == "--simd")
      o.simd = next();
    else if (a == "--solver-reps")
      o.solver_reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--solver-timeout")
      o.solver_timeout_s = std::strtod(next().c_str(), nullptr);
    else if (a == "--solver-max-flops")
      o.solver_max_flops = std::strtod(next().c_str(), nullptr);
    else if (a == "--param") {
      const std::string kv = next();
      const auto eq = kv.find('=');
      if (eq == std::string::npos) usage("--param wants name=value, got " + kv);
      o.params.emplace_back(kv.substr(0, eq), std::strtod(kv.c_str() + eq + 1, nullptr));
    } else
      usage("unknown argument " + a);
  }
  if (o.model_path.empty()) usage("--model is required");
  if (o.label.empty()) o.label = o.model_path;
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

// R samples of one quantity.
struct Sample {
  std::vector<double> values;
  void add(double v) { values.push_back(v); }
  double median() const {
    std::vector<double> s = values;
    std::sort(s.begin(), s.end());
    const std::size_t n = s.size();
    return n == 0 ? 0 : n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  double min() const { return values.empty() ? 0 : *std::min_element(values.begin(), values.end()); }
  double max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }
};

Sample scaled(const Sample& s, double factor) {
  Sample out;
  for (double v : s.values) out.add(v * factor);
  return out;
}

void write_sample(JsonWriter& w, const char* name, const Sample& s) {
  w.key(name)
      .begin_object()
      .field("median", s.median())
      .field("min", s.min())
      .field("max", s.max())
      .field("n", static_cast<std::uint64_t>(s.values.size()))
      .end_object();
}

// Timed results go here, so the compiler cannot drop the calls that produce them.
volatile double observed = 0;
void observe(double v) { observed = v; }

// Seconds per call of f, from enough calls to last at least min_seconds (so short
// evaluations are not dominated by clock resolution).
double seconds_per_call(const std::function<void()>& f, double min_seconds) {
  std::uint64_t calls = 1;
  for (;;) {
    const double start = cpu_ms();
    for (std::uint64_t i = 0; i < calls; ++i) f();
    const double s = (cpu_ms() - start) / 1e3;
    if (s >= min_seconds) return s / double(calls);
    calls = s <= 0 ? calls * 10
                   : std::max<std::uint64_t>(calls * 2, std::uint64_t(double(calls) * min_seconds * 1.2 / s));
  }
}

// ---- the product path: Engine::run ----------------------------------------------

struct RunSamples {
  Sample cpu_ms, wall_ms;  // of the whole Engine::run call, measured here
  // The RunResult's timings_ms (extension/protocol/engine.ts), wall time: record is
  // the time spent recording cacheable blocks, the rest of composition is in total.
  Sample total, explore, scc, record, evaluate;
  double expected_time = 0;
  std::uint64_t ledger_peak = 0;
};

void add_run(RunSamples& s, Engine& engine, const std::string& text, const RunOptions& options) {
  const RunObserver quiet;
  const double cpu = cpu_ms();
  const auto wall = Clock::now();
  const std::string result = engine.run(text, options, quiet);
  s.cpu_ms.add(ms_since(cpu));
  s.wall_ms.add(wall_ms_since(wall));
  const json::Value root = json::parse(result);
  const json::Field r(root, "");
  const json::Field t = r.get("timingsMs");
  s.total.add(t.get("total").number());
  s.explore.add(t.get("explore").number());
  s.scc.add(t.get("scc").number());
  s.record.add(t.get("record").number());
  s.evaluate.add(t.get("evaluate").number());
  s.ledger_peak = std::max<std::uint64_t>(s.ledger_peak,
                                          std::uint64_t(r.get("memory").get("peakAccountedBytes").number()));
  s.expected_time = r.get("moments").get("time").at(0).number();
}

void write_run(JsonWriter& w, const char* name, const RunSamples& s) {
  w.key(name).begin_object();
  write_sample(w, "cpu_ms", s.cpu_ms);
  write_sample(w, "wall_ms", s.wall_ms);
  w.key("engine_timings_wall_ms").begin_object();
  write_sample(w, "total_ms", s.total);
  write_sample(w, "explore_ms", s.explore);
  write_sample(w, "scc_ms", s.scc);
  write_sample(w, "record_ms", s.record);
  write_sample(w, "evaluate_ms", s.evaluate);
  w.end_object();
  w.field("ledger_peak_bytes", s.ledger_peak).field("expected_time", s.expected_time).end_object();
}

// ---- the sparse direct solver -------------------------------------------------------

// A = −T over the transient (non-absorbing, non-S) states at θ, compressed columns
// with ascending row indices as UMFPACK requires, and the initial distribution.
struct SparseSystem {
  int n = 0;
  std::vector<int> col_begin, row;
  std::vector<double> value;
  std::vector<std::pair<int, double>> start;  // (transient index, probability)
};

SparseSystem build_system(const Graph& g, const std::vector<double>& theta) {
  SparseSystem s;
  std::vector<int> index(g.vertex_count, -1);
  for (VertexId u = 1; u < g.vertex_count; ++u)
    if (!g.absorbing(u)) index[u] = s.n++;
  auto weight = [&](std::uint64_t e) {
    const double* c = g.form(e);
    double w = c[0];
    for (std::uint32_t p = 0; p < g.param_count; ++p) w += c[p + 1] * theta[p];
    return w;
  };
  // Row u holds λ_u on the diagonal and −w_uz for each transient z: count per column,
  // then fill rows in ascending order so each column's rows come out sorted.
  std::vector<int> count(s.n + 1, 0);
  for (VertexId u = 1; u < g.vertex_count; ++u) {
    if (index[u] < 0) continue;
    ++count[index[u]];
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      if (index[g.edge_target[e]] >= 0) ++count[index[g.edge_target[e]]];
  }
  s.col_begin.assign(s.n + 1, 0);
  for (int j = 0; j < s.n; ++j) s.col_begin[j + 1] = s.col_begin[j] + count[j];
  s.row.resize(s.col_begin[s.n]);
  s.value.resize(s.col_begin[s.n]);
  std::vector<int> fill(s.col_begin.begin(), s.col_begin.end() - 1);
  // Within row u, the diagonal and the off-diagonals land in different columns, so
  // visiting rows in order keeps every column sorted.
  for (VertexId u = 1; u < g.vertex_count; ++u) {
    const int i = index[u];
    if (i < 0) continue;
    double rate = 0;
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e) {
      const double w = weight(e);
      rate += w;
      const int j = index[g.edge_target[e]];
      if (j >= 0) {
        s.row[fill[j]] = i;
        s.value[fill[j]++] = -w;
      }
    }
    s.row[fill[i]] = i;
    s.value[fill[i]++] = rate;
  }
  // Rows within a column were appended in ascending row order already.
  for (std::uint64_t e = g.edge_begin[0]; e < g.edge_begin[1]; ++e) {
    const int j = index[g.edge_target[e]];
    if (j >= 0) s.start.emplace_back(j, g.form(e)[0]);
  }
  return s;
}

struct SolverResult {
  std::string name;
  Sample analyse_ms, factorise_ms, solve_ms;
  double flops = 0, lnz = 0, unz = 0, offdiag = 0, expected_time = 0;
  std::string error, skipped;
};

double start_sum(const SparseSystem& s, const std::vector<double>& x) {
  double sum = 0;
  for (const auto& [j, p] : s.start) sum += p * x[j];
  return sum;
}

// Each stage is timed like evaluation: repeated until the repetition lasts at least
// kStageSeconds (a stage of microseconds is otherwise below the clock's resolution and
// the first call's page faults), each call freeing what it made.
constexpr double kStageSeconds = 0.02;

// UMFPACK with one of its strategies: "auto" (its default choice between COLAMD on A
// and AMD on A+Aᵀ) or "symmetric" (AMD on A+Aᵀ). A factorisation whose flop estimate
// (an upper bound, known after the analysis) exceeds max_flops is skipped, so one
// poor ordering cannot hold the suite for minutes.
SolverResult run_umfpack(const SparseSystem& s, const char* strategy, double max_flops, int reps) {
  SolverResult r;
  r.name = std::string("UMFPACK ") + strategy;
  double control[UMFPACK_CONTROL], info[UMFPACK_INFO];
  umfpack_di_defaults(control);
  if (std::strcmp(strategy, "symmetric") == 0) control[UMFPACK_STRATEGY] = UMFPACK_STRATEGY_SYMMETRIC;
  const int *Ap = s.col_begin.data(), *Ai = s.row.data();
  const double* Ax = s.value.data();
  const std::vector<double> b(s.n, 1.0);  // the time reward
  std::vector<double> x(s.n, 0.0);

  void* symbolic = nullptr;
  void* numeric = nullptr;
  double t = cpu_ms();
  int status = umfpack_di_symbolic(s.n, s.n, Ap, Ai, Ax, &symbolic, control, info);
  const double first_analyse_ms = ms_since(t);
  if (status != UMFPACK_OK) {
    r.error = "umfpack_di_symbolic failed with status " + std::to_string(status);
    return r;
  }
  if (info[UMFPACK_FLOPS_ESTIMATE] > max_flops) {
    char why[128];
    std::snprintf(why, sizeof why, "estimated %.3g flops > limit %.3g", info[UMFPACK_FLOPS_ESTIMATE], max_flops);
    r.skipped = why;
    r.flops = info[UMFPACK_FLOPS_ESTIMATE];
    r.analyse_ms.add(first_analyse_ms);
    umfpack_di_free_symbolic(&symbolic);
    return r;
  }
  status = umfpack_di_numeric(Ap, Ai, Ax, symbolic, &numeric, control, info);
  if (status != UMFPACK_OK) {
    umfpack_di_free_symbolic(&symbolic);
    r.error = "umfpack_di_numeric failed with status " + std::to_string(status);
    return r;
  }
  r.flops = info[UMFPACK_FLOPS];
  r.lnz = info[UMFPACK_LNZ];
  r.unz = info[UMFPACK_UNZ];
  status = umfpack_di_solve(UMFPACK_A, Ap, Ai, Ax, x.data(), b.data(), numeric, control, info);
  if (status != UMFPACK_OK) r.error = "umfpack_di_solve failed with status " + std::to_string(status);
  r.expected_time = start_sum(s, x);
  for (int rep = 0; rep < reps && r.error.empty(); ++rep) {
    r.analyse_ms.add(1e3 * seconds_per_call(
                               [&] {
                                 void* again = nullptr;
                                 umfpack_di_symbolic(s.n, s.n, Ap, Ai, Ax, &again, control, info);
                                 umfpack_di_free_symbolic(&again);
                               },
                               kStageSeconds));
    r.factorise_ms.add(1e3 * seconds_per_call(
                                 [&] {
                                   void* again = nullptr;
                                   umfpack_di_numeric(Ap, Ai, Ax, symbolic, &again, control, info);
                                   umfpack_di_free_numeric(&again);
                                 },
                                 kStageSeconds));
    r.solve_ms.add(
        1e3 *
        seconds_per_call([&] { umfpack_di_solve(UMFPACK_A, Ap, Ai, Ax, x.data(), b.data(), numeric, control, info); },
                         kStageSeconds));
  }
  umfpack_di_free_numeric(&numeric);
  umfpack_di_free_symbolic(&symbolic);
  return r;
}

// KLU: block triangular form (the SCCs of the matrix, like the engine's components),
// then AMD inside each diagonal block, and left-looking LU per block.
SolverResult run_klu(const SparseSystem& s, int reps) {
  SolverResult r;
  r.name = "KLU BTF+AMD";
  klu_common common;
  klu_defaults(&common);
  int* Ap = const_cast<int*>(s.col_begin.data());
  int* Ai = const_cast<int*>(s.row.data());
  double* Ax = const_cast<double*>(s.value.data());
  klu_symbolic* symbolic = klu_analyze(s.n, Ap, Ai, &common);
  if (!symbolic) {
    r.error = "klu_analyze failed with status " + std::to_string(common.status);
    return r;
  }
  klu_numeric* numeric = klu_factor(Ap, Ai, Ax, symbolic, &common);
  if (!numeric) {
    klu_free_symbolic(&symbolic, &common);
    r.error = "klu_factor failed with status " + std::to_string(common.status);
    return r;
  }
  klu_flops(symbolic, numeric, &common);
  r.flops = common.flops;
  r.lnz = numeric->lnz;
  r.unz = numeric->unz;
  r.offdiag = numeric->nzoff;       // entries of the off-diagonal blocks, kept unfactored
  std::vector<double> x(s.n, 1.0);  // the time reward; solved in place
  if (!klu_solve(symbolic, numeric, s.n, 1, x.data(), &common))
    r.error = "klu_solve failed with status " + std::to_string(common.status);
  r.expected_time = start_sum(s, x);
  for (int rep = 0; rep < reps && r.error.empty(); ++rep) {
    r.analyse_ms.add(1e3 * seconds_per_call(
                               [&] {
                                 klu_symbolic* again = klu_analyze(s.n, Ap, Ai, &common);
                                 klu_free_symbolic(&again, &common);
                               },
                               kStageSeconds));
    r.factorise_ms.add(1e3 * seconds_per_call(
                                 [&] {
                                   klu_numeric* again = klu_factor(Ap, Ai, Ax, symbolic, &common);
                                   klu_free_numeric(&again, &common);
                                 },
                                 kStageSeconds));
    r.solve_ms.add(1e3 * seconds_per_call(
                             [&] {
                               std::fill(x.begin(), x.end(), 1.0);
                               klu_solve(symbolic, numeric, s.n, 1, x.data(), &common);
                             },
                             kStageSeconds));
  }
  klu_free_numeric(&numeric, &common);
  klu_free_symbolic(&symbolic, &common);
  return r;
}

std::string solver_json(const SolverResult& s, std::uint64_t n, double trace_time, const std::string& label) {
  JsonWriter w;
  w.begin_object().field("name", s.name).field("process_peak_rss_bytes", peak_rss_bytes());
  if (!s.skipped.empty()) {
    w.field("skipped", s.skipped).field("flops_estimate", s.flops);
    write_sample(w, "analyse_ms", s.analyse_ms);
    w.end_object();
    return w.take();
  }
  const double rel = std::abs(s.expected_time - trace_time) / std::max(std::abs(trace_time), 1e-300);
  const bool agrees = s.error.empty() && rel <= 1e-8;
  if (!agrees)
    std::fprintf(stderr, "engine_bench: %s: MISMATCH: %s E[time] = %.17g, trace E[time] = %.17g (rel %.3g)%s%s\n",
                 label.c_str(), s.name.c_str(), s.expected_time, trace_time, rel, s.error.empty() ? "" : "; ",
                 s.error.c_str());
  write_sample(w, "analyse_ms", s.analyse_ms);
  write_sample(w, "factorise_ms", s.factorise_ms);
  write_sample(w, "solve_ms", s.solve_ms);
  w.field("flops", s.flops)
      .field("lnz", s.lnz)
      .field("unz", s.unz)
      .field("nnz_lu", s.lnz + s.unz - double(n) + s.offdiag)  // L and U both count the diagonal
      .field("expected_time", s.expected_time)
      .field("relative_difference", rel)
      .field("agrees", agrees);
  if (!s.error.empty()) w.field("error", s.error);
  w.end_object();
  return w.take();
}

// Runs one solver in a child process, so that a solver whose ordering or fill
// explodes can be stopped after `timeout_s` (AMD cannot be interrupted otherwise)
// and so that its memory never counts in this process's peak RSS. Returns the
// solver's JSON object.
std::string isolated(const std::string& name, double timeout_s, const std::function<std::string()>& solve) {
  auto stopped = [&](const std::string& why) {
    JsonWriter w;
    w.begin_object().field("name", name).field("skipped", why).end_object();
    return w.take();
  };
  int fds[2];
  if (pipe(fds) != 0) return stopped(std::string("pipe failed: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) return stopped(std::string("fork failed: ") + std::strerror(errno));
  if (child == 0) {
    close(fds[0]);
    std::string out;
    try {
      out = solve();
    } catch (const std::exception& e) {
      out = stopped(e.what());
    }
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) _exit(1);
      done += std::size_t(n);
    }
    std::fflush(nullptr);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  bool timed_out = false;
  for (;;) {
    const double left_ms = std::chrono::duration<double, std::milli>(deadline - Clock::now()).count();
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, int(std::min(left_ms, 1000.0))) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // the child closed the pipe: it is done
    out.append(buffer, std::size_t(n));
  }
  close(fds[0]);
  if (timed_out) kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  char why[96];
  if (timed_out) {
    std::snprintf(why, sizeof why, "stopped after %.0f s", timeout_s);
    return stopped(why);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.empty()) {
    std::snprintf(why, sizeof why, "the solver process died (%s %d)", WIFSIGNALED(status) ? "signal" : "status",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return stopped(why);
  }
  return out;
}

// What the trace's operations and commands are, counted like trace->operations():
// a block trace used by several blocks counts at each use.
struct OpMix {
  std::uint64_t dot = 0, add = 0, mul = 0, muladd = 0, inv = 0, forward = 0, solve = 0, terms = 0;
  // Bytes each kind holds (docs/performance.md, "Target 3": what an evaluation streams).
  std::uint64_t dot_bytes = 0, op_bytes = 0, forward_bytes = 0, solve_bytes = 0, term_bytes = 0;
};

OpMix op_mix(const ModelTrace& m) {
  OpMix mix;
  for (const ComposedBlock& b : m.blocks) {
    const BlockTrace& t = *b.trace;
    mix.dot += t.dot_count;
    for (std::size_t i = 0; i < t.ops.size(); ++i) {
      switch (t.ops[i].code) {
        case OpCode::Add: ++mix.add; break;
        case OpCode::Mul: ++mix.mul; break;
        case OpCode::MulAdd: ++mix.muladd; break;
        case OpCode::Inv: ++mix.inv; break;
      }
    }
    mix.forward += t.forward.size();
    mix.solve += t.solve.size();
    mix.terms += t.terms.size();
    mix.dot_bytes += t.dot_coeffs.size() * sizeof(double);
    mix.op_bytes += t.ops.bytes();
    mix.forward_bytes += t.forward.bytes();
    mix.solve_bytes += t.solve.bytes();
    mix.term_bytes += t.terms.bytes();
  }
  return mix;
}

// ---- the phases one by one ---------------------------------------------------------

struct Phases {
  Sample explore_ms, explore_wall_ms, condense_ms, record_ms, compose_ms, record_compose_ms;
};

int run(const Options& o) {
  const std::string text = read_file(o.model_path);
  Engine& eng = engine();
  EngineConfig config;
  config.cache_dir = "";
  config.max_disk_bytes = 0;
  config.memory_cache_bytes = 64ull << 30;  // every block stays: the warm runs measure hits only
  eng.configure(config);
  RunOptions run_options;
  run_options.max_states = o.max_states;
  run_options.min_scc_size = o.min_scc;
  run_options.params = o.params;

  // 1. cold product runs; the first one alone decides the run's peak RSS.
  RunSamples cold, warm, blocks_cached;
  std::uint64_t run_peak_rss = 0;
  for (int rep = 0; rep < o.reps; ++rep) {
    eng.clear_caches();
    release_free_heap();
    add_run(cold, eng, text, run_options);
    if (rep == 0) run_peak_rss = peak_rss_bytes();
  }
  // 2. warm product runs: the last cold run left its summary and every block in the cache.
  for (int rep = 0; rep < o.reps; ++rep) add_run(warm, eng, text, run_options);
  // Each repetition edits differently (1, 2, … trailing spaces), so none reuses another's run.
  for (int rep = 0; rep < o.reps; ++rep) add_run(blocks_cached, eng, text + std::string(rep + 1, ' '), run_options);
  eng.clear_caches();
  release_free_heap();

  // 3. the phases on a graph held here.
  ExploreOptions eo;
  eo.max_states = o.max_states;
  Phases ph;
  std::optional<Exploration> explored;
  for (int rep = 0; rep < o.reps; ++rep) {
    explored.reset();
    const double t = cpu_ms();
    const auto wall = Clock::now();
    explored.emplace(load_model_file(text, eo));
    ph.explore_ms.add(ms_since(t));
    ph.explore_wall_ms.add(wall_ms_since(wall));
  }
  const Graph& graph = explored->graph;
  std::optional<Condensation> cond;
  for (int rep = 0; rep < o.reps; ++rep) {
    cond.reset();
    const double t = cpu_ms();
    cond.emplace(condense(graph));
    ph.condense_ms.add(ms_since(t));
  }
  // Recording and composition together (what target 4 compares with a solver's analyse
  // + factorise) are timed like the solver's stages: repeated until a repetition lasts
  // kStageSeconds, and without a clock per block. Reading the process CPU clock is a
  // system call (1-6 µs on the benchmark's VM), and the two per block that timed
  // recording on its own were up to half of a small model's figure. The split between
  // recording and the rest of composition comes from separate passes that time each
  // block with the steady clock (a vDSO read): its share of their elapsed time, applied
  // to the CPU time of the whole.
  std::optional<ModelTrace> trace;
  const BlockProvider plain = [](std::uint32_t, const BlockInput& input) {
    return std::make_shared<const BlockTrace>(record_block(input));
  };
  for (int rep = 0; rep < o.reps; ++rep)
    ph.record_compose_ms.add(
        1e3 * seconds_per_call([&] { observe(double(compose(graph, *cond, plain, o.min_scc).blocks.size())); },
                               kStageSeconds));
  Sample record_share;
  for (int rep = 0; rep < o.reps; ++rep) {
    trace.reset();
    double record_ms = 0;
    const BlockProvider recorder = [&](std::uint32_t, const BlockInput& input) {
      const auto t = Clock::now();
      auto recorded = std::make_shared<const BlockTrace>(record_block(input));
      record_ms += wall_ms_since(t);
      return recorded;
    };
    const auto t = Clock::now();
    trace.emplace(compose(graph, *cond, recorder, o.min_scc));
    const double total = wall_ms_since(t);
    record_share.add(total > 0 ? std::min(1.0, record_ms / total) : 0.0);
  }
  for (const double v : ph.record_compose_ms.values) {
    ph.record_ms.add(v * record_share.median());
    ph.compose_ms.add(v * (1 - record_share.median()));
  }

  std::uint32_t largest = 0, blocks = 0;
  for (std::uint32_t c = 0; c < cond->component_count; ++c) {
    largest = std::max(largest, cond->size(c));
    if (c > 0 && cond->size(c) >= o.min_scc) ++blocks;
  }
  std::uint64_t absorbing = 0;
  for (VertexId u = 1; u < graph.vertex_count; ++u) absorbing += graph.absorbing(u);

  std::vector<double> theta = explored->info.param_defaults;
  for (const auto& [name, value] : o.params) {
    const auto& names = explored->info.param_names;
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) throw EngineError("unknown parameter '" + name + "'");
    theta[it - names.begin()] = value;
  }

  constexpr std::uint32_t kMoments = 2;
  // Evaluations ask for what a run shows: two moments of every reward (and so the
  // variance), which is one program replay and 2 solves per reward.
  const std::uint64_t operations = trace->operations(), commands = trace->commands();
  const OpMix mix = op_mix(*trace);
  const std::uint64_t solves = std::uint64_t(kMoments) * trace->reward_count;
  const double work = double(operations) + double(solves) * double(commands);
  const double trace_time = evaluate(*trace, theta, kMoments).moment(0, 1);
  const double min_seconds = 0.05;
  Sample single_ns, batch8_ns, batch64_ns;
  // The batch's placement built at its first ask and kept beside the trace, as the
  // engine's memory cache keeps it (decision 97): the untimed first call below builds it.
  std::optional<SolutionPlacement> placement;
  const PlacementSource kept = [&](const ModelTrace& t) -> const SolutionPlacement& {
    if (!placement) placement.emplace(t);
    return *placement;
  };
  for (int rep = 0; rep < o.reps; ++rep)
    single_ns.add(1e9 *
                  seconds_per_call([&] { observe(evaluate(*trace, theta, kMoments).moment(0, 1)); }, min_seconds));
  auto batch = [&](std::uint32_t count, Sample& out) {
    std::vector<double> thetas;
    for (std::uint32_t b = 0; b < count; ++b)
      for (std::size_t p = 0; p < theta.size(); ++p) thetas.push_back(theta[p] * (1.0 + 0.001 * b));
    // Measured warm, like the gradient below: one untimed call first, which maps the
    // batch's workspace. Else a call longer than min_seconds (rabbits N = 1000 at 8 θ,
    // one repetition) reports the kernel's zeroing of 130 MB of fresh pages (≈ 0.35 s
    // on this VM) as the batch's cost per vector.
    observe(evaluate_batch(*trace, kept, thetas, count, kMoments)[0].moment(0, 1));
    for (int rep = 0; rep < o.reps; ++rep)
      out.add(1e9 *
              seconds_per_call([&] { observe(evaluate_batch(*trace, kept, thetas, count, kMoments)[0].moment(0, 1)); },
                               min_seconds) /
              count);
  };
  batch(8, batch8_ns);
  batch(64, batch64_ns);
  // The gradient of both moments and the variance of every reward by every parameter:
  // its own forward pass and the backward pass (docs/engine.md, "Gradients"), given
  // the moments evaluate() returned, as a run with --gradient calls it. Measured warm,
  // like the evaluations above: one untimed call
  // first, else a model whose single call exceeds min_seconds (rabbits N=1000, one
  // repetition) would report the first call's page faults of its workspace as the
  // gradient's cost.
  Sample gradient_ns;
  {
    const Moments exact = evaluate(*trace, theta, kMoments);
    {
      const Gradient warm = evaluate_gradient(*trace, theta, kMoments, exact);
      observe(warm.moment.empty() ? 0.0 : warm.moment[0]);
    }
    for (int rep = 0; rep < o.reps; ++rep)
      gradient_ns.add(1e9 * seconds_per_call(
                                [&] {
                                  const Gradient g = evaluate_gradient(*trace, theta, kMoments, exact);
                                  observe(g.moment.empty() ? 0.0 : g.moment[0]);
                                },
                                min_seconds));
  }
  const std::uint64_t trace_bytes = trace->bytes(), reward_count = trace->reward_count;
  const std::uint64_t components = cond->component_count;
  trace.reset();
  cond.reset();
  const std::uint64_t phases_peak_rss = peak_rss_bytes();

  // 4. the sparse direct solver on the same matrix.
  std::vector<std::string> solvers;
  std::uint64_t system_n = 0, system_nnz = 0;
  Sample assemble_ms;
  if (o.solver) {
    // Assembling the matrix at θ is part of a solver's cost per θ, as the DOTs are
    // part of the trace's.
    for (int rep = 0; rep < o.solver_reps; ++rep) {
      const double t = cpu_ms();
      const SparseSystem assembled = build_system(graph, theta);
      assemble_ms.add(ms_since(t));
    }
    const SparseSystem system = build_system(graph, theta);
    system_n = std::uint64_t(system.n);
    system_nnz = system.value.size();
    auto run_isolated = [&](const std::string& name, const std::function<SolverResult()>& solve) {
      solvers.push_back(
          isolated(name, o.solver_timeout_s, [&] { return solver_json(solve(), system_n, trace_time, o.label); }));
    };
    if (system.n > 0) {
      run_isolated("KLU BTF+AMD", [&] { return run_klu(system, o.solver_reps); });
      for (const char* strategy : {"auto", "symmetric"})
        run_isolated(std::string("UMFPACK ") + strategy,
                     [&] { return run_umfpack(system, strategy, o.solver_max_flops, o.solver_reps); });
    }
  }

  JsonWriter w;
  w.begin_object()
      .field("label", o.label)
      .field("model", explored->info.name)
      .field("reps", o.reps)
      .field("min_scc", std::uint64_t(o.min_scc))
      .field("simd", std::string(phasic::simd_level_name(phasic::simd_level())));
  w.key("params").begin_object();
  for (std::size_t p = 0; p < theta.size(); ++p) w.field(explored->info.param_names[p], theta[p]);
  w.end_object();
  w.field("vertices", std::uint64_t(graph.vertex_count))
      .field("edges", graph.edge_count())
      .field("absorbing", absorbing)
      .field("sccs", components)
      .field("largest_scc", std::uint64_t(largest))
      .field("blocks", std::uint64_t(blocks));
  write_run(w, "cold_run", cold);
  write_run(w, "warm_run", warm);
  write_run(w, "blocks_cached_run", blocks_cached);
  w.key("phases").begin_object();
  write_sample(w, "explore_ms", ph.explore_ms);
  write_sample(w, "condense_ms", ph.condense_ms);
  write_sample(w, "record_ms", ph.record_ms);
  write_sample(w, "compose_ms", ph.compose_ms);
  write_sample(w, "record_compose_ms", ph.record_compose_ms);
  // Exploration runs on two threads: states per second of elapsed time is what a user
  // waits for; per CPU second is what it costs.
  write_sample(w, "explore_wall_ms", ph.explore_wall_ms);
  w.field("states_per_s", double(graph.vertex_count - 1) / (ph.explore_wall_ms.median() / 1e3));
  w.field("states_per_cpu_s", double(graph.vertex_count - 1) / (ph.explore_ms.median() / 1e3)).end_object();
  w.key("trace")
      .begin_object()
      .field("operations", operations)
      .field("commands", commands)
      .field("rewards", reward_count)
      .field("solves_per_evaluation", solves)
      .field("work_per_evaluation", work)
      .field("bytes", trace_bytes)
      .field("expected_time", trace_time);
  w.key("op_mix")
      .begin_object()
      .field("dot", mix.dot)
      .field("add", mix.add)
      .field("mul", mix.mul)
      .field("muladd", mix.muladd)
      .field("inv", mix.inv)
      .field("forward", mix.forward)
      .field("solve", mix.solve)
      .field("terms", mix.terms)
      .field("dot_bytes", mix.dot_bytes)
      .field("op_bytes", mix.op_bytes)
      .field("forward_bytes", mix.forward_bytes)
      .field("solve_bytes", mix.solve_bytes)
      .field("term_bytes", mix.term_bytes)
      .end_object();
  w.end_object();
  w.key("evaluate").begin_object();
  write_sample(w, "single_ns_per_op", scaled(single_ns, 1 / work));
  write_sample(w, "batch8_ns_per_op", scaled(batch8_ns, 1 / work));
  write_sample(w, "batch64_ns_per_op", scaled(batch64_ns, 1 / work));
  write_sample(w, "single_ms", scaled(single_ns, 1e-6));
  write_sample(w, "batch8_ms_per_vector", scaled(batch8_ns, 1e-6));
  write_sample(w, "batch64_ms_per_vector", scaled(batch64_ns, 1e-6));
  write_sample(w, "gradient_ms", scaled(gradient_ns, 1e-6));
  w.field("gradient_over_single", gradient_ns.median() / single_ns.median());
  w.end_object();
  if (o.solver) {
    w.key("solver").begin_object().field("n", system_n).field("nnz", system_nnz);
    write_sample(w, "assemble_ms", assemble_ms);
    w.key("runs").begin_array();
    for (const std::string& solver : solvers) w.raw(solver);
    w.end_array().end_object();
  }
  w.key("memory")
      .begin_object()
      .field("run_peak_rss_bytes", run_peak_rss)
      .field("run_ledger_peak_bytes", cold.ledger_peak)
      .field("phases_peak_rss_bytes", phases_peak_rss)
      .field("peak_rss_bytes", peak_rss_bytes())
      .end_object();
  w.end_object();
  std::puts(w.str().c_str());
  return 0;
}

int disk_run(const Options& o) {
  const std::string text = read_file(o.model_path);
  Engine& eng = engine();
  EngineConfig config;
  config.cache_dir = o.disk_run;
  eng.configure(config);
  RunOptions run_options;
  run_options.max_states = o.max_states;
  run_options.min_scc_size = o.min_scc;
  run_options.params = o.params;
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const double cpu = cpu_ms();
  const auto wall = Clock::now();
  const std::string result = eng.run(text, run_options, {});
  const double wall_ms = wall_ms_since(wall), cpu_run_ms = ms_since(cpu);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  const json::Value r = json::parse(result);
  JsonWriter w;
  w.begin_object()
      .field("label", o.label)
      .field("reused", r.find("reused")->as_bool())
      .field("engine_total_ms", r.find("timingsMs")->find("total")->as_number())
      .field("explore_ms", r.find("timingsMs")->find("explore")->as_number())
      .field("wall_ms", wall_ms)
      .field("cpu_ms", cpu_run_ms)
      .field("minor_faults", std::uint64_t(after.ru_minflt - before.ru_minflt))
      .field("recorded", r.find("sccs")->find("recorded")->as_number())
      .field("cached", r.find("sccs")->find("cached")->as_number())
      .end_object();
  std::printf("%s\n", w.take().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (!o.simd.empty()) {
    if (o.simd == "sse2")
      phasic::limit_simd_level(phasic::SimdLevel::sse2);
    else if (o.simd == "avx2")
      phasic::limit_simd_level(phasic::SimdLevel::avx2);
    else if (o.simd != "avx512")
      usage("--simd wants sse2, avx2 or avx512, got " + o.simd);
  }
  try {
    if (!o.disk_run.empty()) return disk_run(o);
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_bench: %s: %s\n", o.label.c_str(), e.what());
    return 1;
  }
}
