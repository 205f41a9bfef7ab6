// Fuzzes the compiled-model loader (JSON parser, validation of every field and
// program) and exploration of what it accepts, with a small state limit. Invariant
// under test: a file either loads into a model whose programs are safe to run and
// explores (or stops at the limit) with an error naming rule, binding and state, or
// is rejected with an error naming the field; never a crash, and never a run that
// ignores cancellation (fuzz_support.hpp: Deadline).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "graph/explore.hpp"
#include "model/compiled_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace phasic;
  fuzz::set_budget();
  fuzz::expect_clean_failure([&] {
    const json::Value root = json::parse(fuzz::text_of(data, size));
    const CompiledModel model = load_compiled_model(root);
    ExploreOptions options;
    options.max_states = 2000;
    options.cancel = fuzz::Deadline::start();
    const Exploration explored = explore(model, options);
    (void)explored;
  });
  return 0;
}
