#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>

#include "check.hpp"
#include "memory/accounting.hpp"

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

TEST_MAIN()
