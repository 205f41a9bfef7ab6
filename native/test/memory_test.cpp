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

// A large region keeps its pages after release and is handed to the next request it
// can hold (the gradient's workspace on a model it runs again); the ledger counts it
// only while held, and release_free_heap() gives it back.
TEST(a_retained_region_is_counted_while_held_and_reused_after_release) {
  const std::size_t before = ledger().bytes(Category::Evaluation);
  const std::size_t large = 8 * RetainedRegion::kRetainedFrom;
  void* first = nullptr;
  {
    RetainedRegion r(large, Category::Evaluation);
    CHECK_EQ(ledger().bytes(Category::Evaluation), before + large);
    first = r.data();
    static_cast<char*>(r.data())[large - 1] = 1;  // writable to its last byte
  }
  CHECK_EQ(ledger().bytes(Category::Evaluation), before);
  {
    RetainedRegion again(large / 2, Category::Evaluation);
    CHECK(again.data() == first);
    CHECK_EQ(ledger().bytes(Category::Evaluation), before + large / 2);
    // A second region while the kept one is held is a region of its own.
    RetainedRegion other(large, Category::Evaluation);
    CHECK(other.data() != again.data());
  }
  {
    RetainedRegion small(100, Category::Evaluation);
    CHECK_EQ(ledger().bytes(Category::Evaluation), before + 100);
  }
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Evaluation), before);
  const std::size_t total = ledger().total();
  ledger().set_budget(total + 1024);
  CHECK_THROWS(RetainedRegion(large, Category::Evaluation));
  CHECK_EQ(ledger().total(), total);
  ledger().set_budget(0);
}

TEST_MAIN()
