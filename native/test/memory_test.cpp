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

TEST_MAIN()
