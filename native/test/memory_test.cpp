#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

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
// contents kept when it grows), is accounted like any other, and is unmapped when freed.
TEST(large_blocks_are_aligned_mappings_of_their_own_and_are_unmapped) {
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
#if defined(__linux__)
    unsigned char resident[1];
    CHECK(::mincore(first, std::size_t(::sysconf(_SC_PAGESIZE)), resident) != 0);  // ENOMEM: not mapped
#endif
    first = v.data();
  }
  CHECK_EQ(ledger().bytes(Category::Graph), before);
#if defined(__linux__)
  unsigned char resident[1];
  CHECK(::mincore(first, std::size_t(::sysconf(_SC_PAGESIZE)), resident) != 0);
#endif
}

TEST_MAIN()
