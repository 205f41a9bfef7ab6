#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "memory/accounting.hpp"
#include "memory/kept.hpp"
#include "trace/condensation.hpp"
#include "trace/evaluate.hpp"
#include "trace/model_trace.hpp"
#include "trace_fixtures.hpp"

using namespace phasic;

TEST(counted_vector_is_accounted_and_released) {
  const std::size_t before = ledger().bytes(Category::Graph);
  {
    CountedVector<double, Category::Graph> v(1000);
    CHECK_EQ(ledger().bytes(Category::Graph), before + 1000 * sizeof(double));
  }
  CHECK_EQ(ledger().bytes(Category::Graph), before);
}

TEST(budget_stops_an_allocation_and_leaves_the_ledger_unchanged) {
  const std::size_t total = ledger().total();
  ledger().set_budget(total + 1024);
  CHECK_THROWS((CountedVector<char, Category::Evaluation>(4096)));
  CHECK_EQ(ledger().total(), total);
  ledger().set_budget(0);
}

// The smaps block of the mapping that contains `address` (empty if none does).
static std::string smaps_of(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::string line, block;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {  // a mapping's first line
      if (inside) break;
      inside = at >= lo && at < hi;
    }
    if (inside) block += line + "\n";
  }
  return block;
}

// A block of kLargeAllocationBytes or more is a mapping of its own, 2 MB aligned and
// advised into huge pages; it keeps a vector's semantics (zeroed on value-initialising,
// contents kept when it grows), is accounted like any other, is kept mapped as
// workspace when freed and unmapped by release_free_heap().
TEST(large_blocks_are_aligned_mappings_of_their_own_kept_until_released) {
  release_free_heap();
  const std::size_t before = ledger().bytes(Category::Graph);
  const std::size_t n = kLargeAllocationBytes / sizeof(std::int32_t) + 12345;
  void* first = nullptr;
  {
    CountedVector<std::int32_t, Category::Graph> v(n);
    CHECK_EQ(ledger().bytes(Category::Graph), before + n * sizeof(std::int32_t));
    first = v.data();
#if defined(__linux__)
    CHECK_EQ(reinterpret_cast<std::uintptr_t>(v.data()) % (std::uintptr_t(2) << 20), std::uintptr_t(0));
#endif
    bool zero = true;
    for (std::size_t i = 0; i < n; ++i) zero = zero && v[i] == 0;
    CHECK(zero);
    for (std::size_t i = 0; i < n; ++i) v[i] = std::int32_t(i * 7);
#if defined(__linux__)
    // MADV_HUGEPAGE shows as "hg" in the mapping's VmFlags, whatever the THP mode.
    const std::string smaps = smaps_of(v.data());
    const std::size_t flags = smaps.find("VmFlags:");
    if (flags != std::string::npos) CHECK(smaps.find(" hg", flags) != std::string::npos);
#endif
    v.push_back(-1);  // past the capacity: a new block, the old one copied and freed
    CHECK(v.data() != first);
    bool kept = v[n] == -1;
    for (std::size_t i = 0; i < n; ++i) kept = kept && v[i] == std::int32_t(i * 7);
    CHECK(kept);
    // The freed block stays mapped as workspace, whole 2 MB pages, for a block of its length.
    CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(4) << 20);
#if defined(__linux__)
    unsigned char resident[1];
    CHECK_EQ(::mincore(first, std::size_t(::sysconf(_SC_PAGESIZE)), resident), 0);
#endif
  }
  CHECK_EQ(ledger().bytes(Category::Graph), before);
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
#if defined(__linux__)
  unsigned char resident[1];
  CHECK(::mincore(first, std::size_t(::sysconf(_SC_PAGESIZE)), resident) != 0);  // ENOMEM: not mapped
#endif
}

namespace {

// Whether the page holding p is mapped in this process, asked of the kernel (mincore
// fails with ENOMEM on an unmapped range), not of the arena's own bookkeeping.
bool mapped(const void* p) {
  const auto page = std::uintptr_t(4096);
  void* start = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) & ~(page - 1));
  unsigned char resident;
  return ::mincore(start, page, &resident) == 0 || errno != ENOMEM;
}

using Doubles = CountedVector<double, Category::Traces>;

}  // namespace

TEST(arena_allocations_are_counted_contiguous_and_outlive_their_scope) {
  const std::size_t before = ledger().bytes(Category::Traces);
  std::unique_ptr<Doubles> a, b;
  const char* unused_tail;
  {
    const ArenaScope arena(4 << 20);
    a = std::make_unique<Doubles>(1000, 1.5);
    b = std::make_unique<Doubles>(10, 2.5);
    CHECK_EQ(ledger().bytes(Category::Traces), before + 1010 * sizeof(double));
    // Bump order, 16-byte aligned: b follows a (8000 bytes) directly.
    CHECK_EQ(reinterpret_cast<const char*>(b->data()) - reinterpret_cast<const char*>(a->data()), 8000);
    unused_tail = reinterpret_cast<const char*>(a->data()) + (1 << 20);
    CHECK(mapped(unused_tail));
  }
  // The scope is gone: its untouched tail went back, what was carved stays usable.
  CHECK(!mapped(unused_tail));
  CHECK(mapped(a->data()));
  CHECK_EQ((*a)[999], 1.5);
  CHECK_EQ((*b)[9], 2.5);
  const void* first = a->data();
  // The last allocation may be freed on another thread; then the arena is unmapped.
  a.reset();
  CHECK(mapped(first));
  std::thread([&] { b.reset(); }).join();
  CHECK(!mapped(first));
  CHECK_EQ(ledger().bytes(Category::Traces), before);
}

TEST(an_arena_reuses_a_freed_temporary_and_hands_what_does_not_fit_to_the_heap) {
  const std::size_t before = ledger().bytes(Category::Traces);
  {
    const ArenaScope arena(1);  // one 2 MB page
    Doubles kept(100, 1.0);
    const double* temporary_at;
    {
      Doubles temporary(50, 0.0);
      temporary_at = temporary.data();
    }
    Doubles next(50, 3.0);
    CHECK(next.data() == temporary_at);
    Doubles large(1 << 20, 4.0);  // 8 MB: more than the arena holds
    CHECK((large.data() + (1 << 20) <= kept.data() || large.data() >= kept.data() + (2 << 20) / sizeof(double)));
    CHECK_EQ(large[(1 << 20) - 1], 4.0);
    CHECK_EQ(ledger().bytes(Category::Traces), before + (100 + 50 + (1 << 20)) * sizeof(double));
  }
  CHECK_EQ(ledger().bytes(Category::Traces), before);
}

TEST(arena_scopes_nest_and_only_their_thread_carves_from_them) {
  ArenaScope outer(1);
  Doubles in_outer(10, 1.0);
  const double* inner_first;
  {
    const ArenaScope inner(1);
    Doubles in_inner(10, 2.0);
    inner_first = in_inner.data();
    CHECK(inner_first != in_outer.data() + 10);
    std::unique_ptr<Doubles> elsewhere;
    std::thread([&] { elsewhere = std::make_unique<Doubles>(10, 3.0); }).join();
    CHECK(elsewhere->data() != in_inner.data() + 10);
    CHECK(elsewhere->data() != in_outer.data() + 10);
  }
  Doubles after_inner(10, 4.0);
  CHECK(after_inner.data() == in_outer.data() + 10);
}

// A large region keeps its pages after release and is handed to the next request it
// can hold (the gradient's workspace on a model it runs again); while held it is
// counted in its caller's category, while kept as workspace, and release_free_heap()
// gives it back.
TEST(a_retained_region_is_counted_while_held_and_reused_after_release) {
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
  const std::size_t before = ledger().bytes(Category::Evaluation);
  const std::size_t large = 8 * RetainedRegion::kRetainedFrom;  // a whole number of 2 MB pages
  void* first = nullptr;
  {
    RetainedRegion r(large, Category::Evaluation);
    CHECK(r.fresh());
    CHECK_EQ(ledger().bytes(Category::Evaluation), before + large);
    CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
    first = r.data();
    static_cast<char*>(r.data())[large - 1] = 1;  // writable to its last byte
  }
  CHECK_EQ(ledger().bytes(Category::Evaluation), before);
  CHECK_EQ(ledger().bytes(Category::Workspace), large);
  {
    RetainedRegion again(large / 2, Category::Evaluation);
    CHECK(again.data() == first);
    CHECK(!again.fresh());
    CHECK_EQ(static_cast<char*>(again.data())[large - 1], 1);  // the same pages, as left
    CHECK_EQ(ledger().bytes(Category::Evaluation), before + large / 2);
    CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
    // A second region while the kept one is held is a region of its own.
    RetainedRegion other(large, Category::Evaluation);
    CHECK(other.data() != again.data());
  }
  // Both are kept now, each with its whole mapping.
  CHECK_EQ(ledger().bytes(Category::Workspace), 2 * large);
  {
    RetainedRegion small(100, Category::Evaluation);
    CHECK_EQ(ledger().bytes(Category::Evaluation), before + 100);
  }
  CHECK_EQ(ledger().bytes(Category::Workspace), 2 * large);
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Evaluation), before);
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
  const std::size_t total = ledger().total();
  ledger().set_budget(total + 1024);
  CHECK_THROWS(RetainedRegion(large, Category::Evaluation));
  CHECK_EQ(ledger().total(), total);
  ledger().set_budget(0);
}

// The workspace is bounded (kMaxKeptRegions regions, the most recently released), a
// request takes the smallest kept region that holds it, and an allocation that the
// budget would refuse gets the workspace's room first.
TEST(the_workspace_is_bounded_and_gives_way_to_the_budget) {
  release_free_heap();
  const std::size_t page = std::size_t(2) << 20;
  void* kept[RetainedRegion::kMaxKeptRegions + 1];
  {
    std::vector<std::unique_ptr<RetainedRegion>> held;
    for (std::size_t i = 0; i <= RetainedRegion::kMaxKeptRegions; ++i) {
      held.push_back(std::make_unique<RetainedRegion>((i + 1) * page, Category::Evaluation));
      kept[i] = held.back()->data();
    }
  }  // released in order: region 0 first, so it is the oldest and the one dropped
  std::size_t expected = 0;
  for (std::size_t i = 1; i <= RetainedRegion::kMaxKeptRegions; ++i) expected += (i + 1) * page;
  CHECK_EQ(ledger().bytes(Category::Workspace), expected);
  {
    RetainedRegion fits(page + 1, Category::Evaluation);  // needs 2 pages: region 1, the smallest that holds it
    CHECK(fits.data() == kept[1]);
    CHECK_EQ(ledger().bytes(Category::Workspace), expected - 2 * page);
  }
  CHECK_EQ(ledger().bytes(Category::Workspace), expected);
  // Under a budget with room for 1 MB beside the workspace, 4 MB more are granted by
  // dropping the workspace.
  const std::size_t total = ledger().total();
  ledger().set_budget(total + (std::size_t(1) << 20));
  {
    CountedVector<char, Category::Evaluation> needs(std::size_t(4) << 20);
    CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
  }
  ledger().set_budget(0);
  // Freed, the 4 MB are a kept block: workspace again, and still counted.
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(4) << 20);
  CHECK_EQ(ledger().total(), total - expected + (std::size_t(4) << 20));
  release_free_heap();
  CHECK_EQ(ledger().total(), total - expected);
}

// A freed counted block of kKeptBlockFrom bytes or more stays mapped as workspace and
// is the next allocation of the same mapped length (a trace recorded again), with the
// pages its last user left; one of another length is not. The kept blocks are bounded
// in count and bytes (the oldest go), and release_free_heap() gives them back.
TEST(freed_counted_blocks_are_kept_as_workspace_for_the_same_length) {
  release_free_heap();
  using Ops = CountedVector<std::uint64_t, Category::Traces>;
  const std::size_t before = ledger().bytes(Category::Traces);
  const std::size_t n = kKeptBlockFrom / sizeof(std::uint64_t) + 100;  // 64 KiB + 800 bytes
  const std::size_t mapped = (n * sizeof(std::uint64_t) + 4095) / 4096 * 4096;
  std::uint64_t* first = nullptr;
  {
    Ops ops(n, 7);
    first = ops.data();
    CHECK_EQ(ledger().bytes(Category::Traces), before + n * sizeof(std::uint64_t));
    CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
  }
  CHECK_EQ(ledger().bytes(Category::Traces), before);
  CHECK_EQ(ledger().bytes(Category::Workspace), mapped);
  {
    Ops longer(n + 1024);  // another mapped length: a block of its own
    CHECK(longer.data() != first);
    CHECK_EQ(ledger().bytes(Category::Workspace), mapped);
    Ops ops;
    ops.reserve(n - 1);  // the same number of pages
    CHECK(ops.data() == first);
    CHECK_EQ(*ops.data(), std::uint64_t(7));  // the pages as left, not zeroed again
    CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
    CHECK_EQ(ledger().bytes(Category::Traces), before + (2 * n + 1023) * sizeof(std::uint64_t));
  }
  CHECK(ledger().bytes(Category::Workspace) > mapped);
  {
    // More blocks than kMaxKeptBlocks, each of its own length: the oldest go.
    std::vector<Ops> many;
    for (std::size_t i = 0; i <= kMaxKeptBlocks; ++i) many.emplace_back(n + 512 * (i + 3));
    for (Ops& v : many) Ops().swap(v);  // freed in order: many[0] is the oldest
  }
  CHECK(ledger().bytes(Category::Workspace) <= kMaxKeptBlockBytes);
  std::size_t newest_bytes = 0;
  for (std::size_t i = 1; i <= kMaxKeptBlocks; ++i)
    newest_bytes += (std::size_t(n + 512 * (i + 3)) * sizeof(std::uint64_t) + 4095) / 4096 * 4096;
  CHECK_EQ(ledger().bytes(Category::Workspace), newest_bytes);
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
  CHECK_EQ(ledger().bytes(Category::Traces), before);
}

// An evaluation's scratch is one workspace per session; from kRetainedFrom on it stays
// mapped between calls as workspace. A batch of 8 θ on rabbits N = 200 (20,301
// states) with 16 rewards (its own, repeated: a batch keeps the rewards in block
// order, 2.6 MB, and x only where other blocks read it) leaves it kept, and the next
// batch takes the same pages: it faults in none of them (as separate heap arrays its
// first two calls each faulted in every 4 KB page), and gives the same bits.
TEST(an_evaluations_scratch_is_kept_as_workspace_between_calls) {
  const Graph g = fixtures::rabbits(200);
  ModelTrace t = compose(g, condense(g), {});
  const std::size_t V = t.vertex_count;
  const std::vector<double> own(t.rewards.begin(), t.rewards.end());
  const std::uint32_t R = t.reward_count;
  for (std::uint32_t r = R; r < 16; ++r)
    t.rewards.insert(t.rewards.end(), own.begin() + (r % R) * V, own.begin() + (r % R + 1) * V);
  t.reward_count = 16;
  release_free_heap();  // composing leaves freed blocks kept as workspace (decision 57)
  std::vector<double> thetas;
  for (int i = 0; i < 8; ++i) thetas.insert(thetas.end(), {1.0 + 0.1 * i, 2.0, 3.0});
  const std::size_t before = ledger().bytes(Category::Evaluation);
  // Kept beside the trace across calls, as the memory cache keeps it (decision 97).
  const SolutionPlacement placement(t);
  const PlacementSource kept_placement = [&](const ModelTrace&) -> const SolutionPlacement& { return placement; };
  const std::vector<Moments> first = evaluate_batch(t, kept_placement, thetas, 8, 2);
  const std::size_t kept = ledger().bytes(Category::Workspace);
  CHECK(kept >= RetainedRegion::kRetainedFrom);  // the session's region
  CHECK_EQ(ledger().bytes(Category::Evaluation), before);
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const long faults_before = usage.ru_minflt;
  const std::vector<Moments> second = evaluate_batch(t, kept_placement, thetas, 8, 2);
  getrusage(RUSAGE_SELF, &usage);
  // Faulting the workspace in again would fault every one of its 4 KB pages (≥ 1,024).
  // The results' vectors may fault a few pages, more under a sanitizer, whose allocator
  // holds freed memory back and hands out fresh pages and their shadow.
  const long workspace_pages = long(kept / 4096);
  const long faults = usage.ru_minflt - faults_before;
  if (!(faults < workspace_pages / 8))
    std::fprintf(stderr, "  %ld faults, workspace %ld pages\n", faults, workspace_pages);
  CHECK(faults < workspace_pages / 8);
  CHECK_EQ(ledger().bytes(Category::Workspace), kept);
  CHECK_EQ(ledger().bytes(Category::Evaluation), before);
  for (std::size_t i = 0; i < 8; ++i)
    CHECK(std::memcmp(first[i].raw.data(), second[i].raw.data(), first[i].raw.size() * sizeof(double)) == 0);
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
}

// A working storage's bytes are the ledger's own: its tally counts whatever its vectors
// allocate under it, so a storage of any shape is kept as workspace for exactly what it
// holds, taken back whole (contents and all) by the next Reused of its type, and freed
// by release_free_heap(), also from inside another storage's open tally, which it
// leaves untouched. A storage above kMaxKeptStorageBytes is not kept.
namespace {
struct Shelves {
  CountedVector<double, Category::Subgraphs> numbers;
  std::vector<CountedVector<std::uint32_t, Category::Subgraphs>> rows;  // rows of their own: not listed anywhere
};
}  // namespace

TEST(a_working_storage_is_kept_as_workspace_for_exactly_what_it_holds) {
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
  const std::size_t subgraphs = ledger().bytes(Category::Subgraphs);
  const double* kept_numbers = nullptr;
  std::size_t held = 0;
  {
    const Reused<Shelves, Category::Subgraphs> storage;
    const Tally::Scope open(storage.tally());
    (*storage).numbers.assign(1000, 2.5);
    kept_numbers = (*storage).numbers.data();
    for (std::uint32_t i = 1; i <= 20; ++i) (*storage).rows.emplace_back(i * 7, i);
    (*storage).rows.erase((*storage).rows.begin() + 3);  // a free under the tally
    held = ledger().bytes(Category::Subgraphs) - subgraphs;
    CHECK_EQ(storage.tally().bytes(), held);
  }
  CHECK_EQ(ledger().bytes(Category::Subgraphs), subgraphs);
  CHECK_EQ(ledger().bytes(Category::Workspace), held);
  {
    const Reused<Shelves, Category::Subgraphs> again;
    CHECK((*again).numbers.data() == kept_numbers);
    CHECK_EQ((*again).rows.size(), std::size_t(19));
    CHECK_EQ(ledger().bytes(Category::Subgraphs), subgraphs + held);
    CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
  }
  CHECK_EQ(ledger().bytes(Category::Workspace), held);
  {
    // Given back while another storage's tally is open on this thread.
    Tally outer(Category::Subgraphs);
    const Tally::Scope open(outer);
    CountedVector<double, Category::Subgraphs> mine(10);
    release_free_heap();
    CHECK_EQ(outer.bytes(), 10 * sizeof(double));
  }
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
  CHECK_EQ(ledger().bytes(Category::Subgraphs), subgraphs);
  {
    const Reused<Shelves, Category::Subgraphs> large;
    const Tally::Scope open(large.tally());
    (*large).numbers.resize(kMaxKeptStorageBytes / sizeof(double) + 1);
  }
  CHECK_EQ(ledger().bytes(Category::Subgraphs), subgraphs);
  {
    const Reused<Shelves, Category::Subgraphs> fresh;  // not the large one
    CHECK((*fresh).numbers.empty());
  }
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), std::size_t(0));
}

TEST_MAIN()
