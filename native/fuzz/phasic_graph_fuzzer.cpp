// Fuzzes the reader of phasic's Graph.serialize() JSON: the JSON parser, then the
// importer. Invariant under test: any byte string is either imported into a graph
// that satisfies Graph's invariants or rejected with an error naming a field; never
// a crash, an out-of-bounds access, a leak or an unbounded allocation.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "graph/phasic_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace phasic;
  fuzz::set_budget();
  fuzz::expect_clean_failure([&] {
    const json::Value root = json::parse(fuzz::text_of(data, size));
    const Exploration imported = import_phasic_graph(root);
    (void)imported;
  });
  return 0;
}
