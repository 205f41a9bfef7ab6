#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "check.hpp"
#include "json/json.hpp"
#include "model/compiled_model.hpp"
#include "model/interval_eval.hpp"
#include "model/program.hpp"
#include "model_fixtures.hpp"

using namespace phasic;

// ---- the VM --------------------------------------------------------------------

static Program decode(const std::string& code, std::uint32_t locals = 4, std::uint32_t state_length = 3) {
  static json::Value holder;  // the DOM only needs to live while decoding
  holder = json::parse(code);
  return decode_program(json::Field(holder, "code"), ProgramScope{locals, state_length, 5});
}

static double eval(const std::string& code, std::vector<std::int32_t> state = {5, 0, 2}) {
  const Program p = decode(code);
  std::vector<double> locals(4, 0.0);
  Budget budget(nullptr);
  return run(p, state.data(), std::uint32_t(state.size()), locals.data(), budget);
}

static EngineError vm_error(const std::string& code) {
  try {
    eval(code);
  } catch (const EngineError& e) {
    return e;
  }
  return EngineError("no error", -99);
}

TEST(arithmetic_and_comparisons) {
  CHECK_EQ(eval("[0,2,0,3,7]"), 5.0);   // 2 + 3
  CHECK_EQ(eval("[0,2,0,3,8]"), -1.0);  // 2 - 3
  CHECK_EQ(eval("[0,2,0,3,9]"), 6.0);
  CHECK_EQ(eval("[0,3,0,2,10]"), 1.5);
  CHECK_EQ(eval("[0,-7,0,3,11,0]"), -1.0);  // remainder has the sign of a
  CHECK_EQ(eval("[0,7,0,-3,11,0]"), 1.0);
  CHECK_EQ(eval("[0,4,12]"), -4.0);
  CHECK_EQ(eval("[0,1,0,2,13]"), 0.0);
  CHECK_EQ(eval("[0,1,0,2,14]"), 1.0);
  CHECK_EQ(eval("[0,1,0,2,15]"), 1.0);
  CHECK_EQ(eval("[0,2,0,2,16]"), 1.0);
  CHECK_EQ(eval("[0,1,0,2,17]"), 0.0);
  CHECK_EQ(eval("[0,2,0,2,18]"), 1.0);
  CHECK_EQ(eval("[0,1,19]"), 0.0);
  CHECK_EQ(eval("[0,3,0,1,0,2,22,3]"), 1.0);
  CHECK_EQ(eval("[0,3,0,1,0,2,23,3]"), 3.0);
  CHECK_EQ(eval("[0,-2.5,24]"), 2.5);
  CHECK_EQ(eval("[0,-2.5,25]"), -3.0);
  CHECK_EQ(eval("[0,-2.5,26]"), -2.0);
  CHECK_EQ(eval("[0,5,0,2,27,0]"), 10.0);
  CHECK_EQ(eval("[0,5,0,7,27,0]"), 0.0);
  CHECK_EQ(eval("[0,5,0,-1,27,0]"), 0.0);
  CHECK_EQ(eval("[0,60,0,30,27,0]"), 118264581564861424.0);
  CHECK(std::isinf(eval("[0,1e9,0,5e8,27,0]")));
  CHECK_EQ(eval("[0,4,29,9]"), 16.0);   // DUP
  CHECK_EQ(eval("[0,4,0,9,28]"), 4.0);  // POP
}

TEST(state_locals_and_jumps) {
  CHECK_EQ(eval("[3,0]"), 5.0);  // CELL (a one-instruction program)
  CHECK_EQ(eval("[3,2,3,0,7]"), 7.0);
  CHECK_EQ(eval("[0,2,5,3,1,4]"), 2.0);  // INDEX then CELL_AT
  CHECK_EQ(eval("[0,9,2,1,1,1]"), 9.0);  // STORE, LOAD
  // if state[1] == 0 then 10 else 20
  CHECK_EQ(eval("[3,1,0,0,13,21,11,0,10,20,13,0,20]"), 10.0);
  CHECK_EQ(eval("[3,1,0,0,14,21,11,0,10,20,13,0,20]"), 20.0);
  // sum of the 3 cells with a loop over local 0 (the counter) and local 1 (the sum)
  const std::string sum = "[0,0,2,0,0,0,2,1, 1,0,0,3,15,21,33, 1,1,1,0,5,3,-1,4,7,2,1, 1,0,0,1,7,2,0,20,8, 1,1]";
  // positions: 0 CONST 0, 2 STORE 0, 4 CONST 0, 6 STORE 1, 8 LOAD 0, 10 CONST 3, 12 LT,
  // 13 JIF 35, 15 LOAD 1, 17 LOAD 0, 19 INDEX 3 -1, 22 CELL_AT, 23 ADD, 24 STORE 1,
  // 26 LOAD 0, 28 CONST 1, 30 ADD, 31 STORE 0, 33 JUMP 8, 35 LOAD 1
  std::string fixed = sum;
  fixed.replace(fixed.find("21,33"), 5, "21,35");
  CHECK_EQ(eval(fixed), 7.0);
}

TEST(sum_loops_run_fused_as_the_loop_runs) {
  // The front end's sum(x) for x = cells 1..4 of a 6-cell state into slots 2 (acc) and
  // 3 (i), then `<= 9`; the same loop over cells 0..5 without an offset.
  const std::string with_offset =
      "[0,0,2,2,0,0,2,3,1,3,0,4,15,21,38,1,2,1,3,5,4,0,0,1,7,4,7,2,2,1,3,0,1,7,2,3,20,8,1,2,0,9,16]";
  const std::string whole = "[0,0,2,2,0,0,2,3,1,3,0,6,15,21,35,1,2,1,3,5,6,0,4,7,2,2,1,3,0,1,7,2,3,20,8,1,2]";
  const std::vector<std::int32_t> state = {100, 3, -1, 4, 2, 7};
  for (const auto& [code, expected, acc] : {std::tuple{with_offset, 1.0, 8.0}, std::tuple{whole, 115.0, 115.0}}) {
    const Program fused = decode(code, 4, 6);
    CHECK_EQ(fused.sums.size(), std::size_t(1));
    Program plain = fused;
    plain.fused.clear();
    std::vector<double> a(4, -5.0), b(4, -5.0);
    Budget budget(nullptr);
    CHECK_EQ(run(fused, state.data(), 6, a.data(), budget), expected);
    CHECK_EQ(run(plain, state.data(), 6, b.data(), budget), expected);
    CHECK(a == b);  // the slots as the loop leaves them
    CHECK_EQ(a[2], acc);
  }
  // A loop reaching past the state is left to the interpreter, which reports it.
  CHECK(decode(whole, 4, 5).sums.empty());
}

TEST(instruction_errors_carry_their_site) {
  EngineError e = vm_error("[0,3,5,3,4,4]");
  CHECK_EQ(e.site, 4);
  CHECK(std::string(e.what()) == "index 3 is out of range 0..2");
  CHECK(std::string(vm_error("[0,0.5,5,3,4,4]").what()) == "index 0.5 is not an integer");
  e = vm_error("[0,1.5,6,2]");
  CHECK_EQ(e.site, 2);
  CHECK(std::string(e.what()) == "value 1.5 is not an integer");
  CHECK(std::string(vm_error("[0,3e9,6,2]").what()) == "value 3000000000 is outside the 32-bit integer range");
  e = vm_error("[0,1,0,0,11,1]");
  CHECK_EQ(e.site, 1);
  CHECK(std::string(e.what()) == "remainder by zero");
  CHECK_EQ(vm_error("[0,1.5,0,1,11,3]").site, 3);
  e = vm_error("[0,4,0,0.5,27,0]");
  CHECK_EQ(e.site, 0);
  CHECK(std::string(e.what()) == "binom needs integers, got binom(4, 0.5)");
  e = vm_error("[0,7,4]");  // CELL_AT without INDEX: still checked
  CHECK_EQ(e.site, -1);
  CHECK(std::string(e.what()) == "cell index 7 is outside the state (3 cells)");
  CHECK(std::isinf(eval("[0,1,0,0,10]")));  // DIV by zero is not an instruction error
}

TEST(the_budget_polls_cancellation) {
  const Program forever = decode("[0,0,21,0,0,1]");
  std::vector<double> locals(4, 0.0);
  std::vector<std::int32_t> state = {0, 0, 0};
  std::atomic<bool> cancel{true};
  Budget budget(&cancel);
  bool cancelled = false;
  try {
    run(forever, state.data(), 3, locals.data(), budget);
  } catch (const Cancelled&) {
    cancelled = true;
  }
  CHECK(cancelled);
}

// ---- interval evaluation -------------------------------------------------------

// For every integer assignment of the two locals within their intervals, the
// concrete result lies in the interval result, and a concrete error implies may_fail.
static void check_sound(const std::string& code, Interval a, Interval b, std::vector<std::int32_t> state = {5, 0, 2}) {
  const Program p = decode(code);
  IntervalEvaluator ev;
  const Interval locals[4] = {a, b, Interval::top(), Interval::top()};
  ev.set_state(state.data(), std::uint32_t(state.size()));
  const IntervalResult r = ev.run(p, locals);
  for (double x = a.lo; x <= a.hi; ++x)
    for (double y = b.lo; y <= b.hi; ++y) {
      std::vector<double> concrete_locals = {x, y, 0, 0};
      Budget budget(nullptr);
      try {
        const double v = run(p, state.data(), std::uint32_t(state.size()), concrete_locals.data(), budget);
        const bool inside = std::isnan(v) ? r.value.nan : (v >= r.value.lo && v <= r.value.hi);
        if (!inside || (r.value.integral && !std::isnan(v) && v != std::floor(v)))
          check::fail(__FILE__, __LINE__,
                      code + ": " + format_number(v) + " at (" + format_number(x) + ", " + format_number(y) +
                          ") is outside [" + format_number(r.value.lo) + ", " + format_number(r.value.hi) + "]");
      } catch (const EngineError&) {
        if (!r.may_fail) check::fail(__FILE__, __LINE__, code + ": an error the interval result did not allow");
      }
    }
}

TEST(interval_evaluation_is_sound) {
  const Interval small{-3, 3, true, false}, positive{1, 4, true, false}, digits{0, 2, true, false};
  for (const char* code : {"[1,0,1,1,7]", "[1,0,1,1,8]", "[1,0,1,1,9]", "[1,0,1,1,10]", "[1,0,1,1,11,0]", "[1,0,12]",
                           "[1,0,1,1,13]", "[1,0,1,1,14]", "[1,0,1,1,15]", "[1,0,1,1,16]", "[1,0,1,1,17]",
                           "[1,0,1,1,18]", "[1,0,1,1,22,2]", "[1,0,1,1,23,2]", "[1,0,24]", "[1,0,0,2,10,25]",
                           "[1,0,0,2,10,26]", "[1,0,1,1,27,0]", "[1,0,5,3,1,4]", "[1,0,4]", "[1,0,6,2]",
                           // if a < b then a * b else b - 1 (a jump with both branches live)
                           "[1,0,1,1,15,21,14,1,0,1,1,9,20,19,1,1,0,1,8]",
                           // a == 0 and b == 0, short-circuited
                           "[1,0,0,0,13,21,14,1,1,0,0,13,20,16,0,0]"}) {
    check_sound(code, small, small);
    check_sound(code, positive, digits);
    check_sound(code, digits, positive);
    check_sound(code, Interval::point(2), Interval::point(0));
  }
}

TEST(interval_evaluation_proves_what_pruning_needs) {
  IntervalEvaluator ev;
  std::vector<std::int32_t> state = {0, 0, 3};
  ev.set_state(state.data(), 3);
  const Interval locals[4] = {Interval{0, 1, true, false}, Interval::top(), Interval::top(), Interval::top()};
  // x[i] >= 1 for i in 0..1 is false when both cells are 0, and cannot fail.
  IntervalResult r = ev.run(decode("[1,0,5,3,-1,4,0,1,18]"), locals);
  CHECK(r.value.is_false());
  CHECK(!r.may_fail);
  // Reading x[i + 2] may leave the state.
  r = ev.run(decode("[1,0,0,2,7,5,3,-1,4,0,1,18]"), locals);
  CHECK(r.may_fail);
  // A program with a loop is not evaluated: unknown, may fail.
  r = ev.run(decode("[0,0,21,0,0,1]"), locals);
  CHECK(r.may_fail && !r.value.is_false());
}

TEST(cell_ranges_of_any_width_are_the_least_and_greatest_cell) {
  // CELL_AT over an index interval: narrow ranges are scanned, wide ones answered from
  // tables built once per state; both must be exact, and a new state must not see the
  // old one's tables.
  const Program p = decode("[1,0,4]");
  IntervalEvaluator ev;
  std::uint32_t seed = 12345;
  auto next = [&] { return (seed = seed * 1664525u + 1013904223u) >> 8; };
  for (const std::uint32_t length : {1u, 2u, 17u, 64u, 100u, 333u}) {
    std::vector<std::int32_t> state(length);
    for (int round = 0; round < 3; ++round) {
      for (std::int32_t& cell : state) cell = std::int32_t(next() % 1000) - 500;
      ev.set_state(state.data(), length);
      for (int query = 0; query < 200; ++query) {
        std::uint32_t lo = next() % length, hi = next() % length;
        if (lo > hi) std::swap(lo, hi);
        const Interval locals[1] = {Interval{double(lo), double(hi), true, false}};
        const IntervalResult r = ev.run(p, locals);
        const auto [mn, mx] = std::minmax_element(state.begin() + lo, state.begin() + hi + 1);
        CHECK(!r.may_fail);
        CHECK_EQ(r.value.lo, double(*mn));
        CHECK_EQ(r.value.hi, double(*mx));
      }
    }
  }
}

// ---- program validation --------------------------------------------------------

static std::string decode_error(const std::string& code, std::uint32_t locals = 2) {
  try {
    decode(code, locals);
  } catch (const EngineError& e) {
    return e.field + " | " + e.what();
  }
  return "accepted";
}

static bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(programs_are_validated_at_load) {
  CHECK(starts_with(decode_error("[99]"), "code[0] | "));
  CHECK(starts_with(decode_error("[0,1,0]"), "code[2] | "));  // CONST without its value
  CHECK(starts_with(decode_error("[0,1,7]"), "code[2] | "));  // ADD with one value
  CHECK(starts_with(decode_error("[]"), "code | "));
  CHECK(starts_with(decode_error("[0,1,0,2]"), "code | "));  // leaves two values
  CHECK(starts_with(decode_error("[1,2]"), "code[1] | "));   // slot 2 of 2 locals
  CHECK(starts_with(decode_error("[1,0]", 0), "code[1] | "));
  CHECK(starts_with(decode_error("[3,3]"), "code[1] | "));         // cell 3 of 3
  CHECK(starts_with(decode_error("[0,0,5,0,-1]"), "code[3] | "));  // INDEX dim 0
  CHECK(starts_with(decode_error("[0,0,5,2,5]"), "code[4] | "));   // site 5 of 5
  CHECK(starts_with(decode_error("[0,0,6,-2]"), "code[3] | "));
  CHECK(starts_with(decode_error("[0,1,21,1,0,1]"), "code[3] | "));  // jump into CONST's argument
  CHECK(starts_with(decode_error("[0,1,21,7,0,1]"), "code[3] | "));  // jump beyond the end
  CHECK(starts_with(decode_error("[0,1,22,0]"), "code[3] | "));      // MIN of 0 values
  CHECK(starts_with(decode_error("[0,1.5e400]"), "accepted") == false);
  CHECK(starts_with(decode_error("[0,\"x\"]"), "code[1] | "));
  CHECK(starts_with(decode_error("[0.5]"), "code[0] | "));
  // ADD at position 8 is reached with depth 1 by the jump and depth 2 by falling through.
  CHECK(starts_with(decode_error("[0,1,0,1,21,8,0,2,7]"), "code[6] | "));
  CHECK(decode_error("[0,1,0,1,21,8,0,2,7]").find("depth") != std::string::npos);
  // A jump to the end with one value is fine; so is dead code after it.
  CHECK(decode_error("[0,1,20,5,7]") == "accepted");
  std::string deep = "[";
  for (int i = 0; i < 257; ++i) deep += "0,1,";
  for (int i = 0; i < 256; ++i) deep += "7,";
  deep.back() = ']';
  CHECK(decode_error(deep).find("deeper than 256") != std::string::npos);
  std::string ok = "[";
  for (int i = 0; i < 256; ++i) ok += "0,1,";
  for (int i = 0; i < 255; ++i) ok += "7,";
  ok.back() = ']';
  CHECK(decode_error(ok) == "accepted");
}

// ---- model validation ----------------------------------------------------------

// The kingman fixture with one substring replaced; the error's field.
static std::string model_error(const std::string& from, const std::string& to,
                               std::string text = fixtures::kingman(4)) {
  const auto at = text.find(from);
  if (at == std::string::npos) return "fixture does not contain " + from;
  text.replace(at, from.size(), to);
  try {
    load_compiled_model(json::parse(text));
  } catch (const EngineError& e) {
    return e.field;
  }
  return "accepted";
}

TEST(the_fixture_itself_loads) {
  const CompiledModel m = load_compiled_model(json::parse(fixtures::kingman(4)));
  CHECK_EQ(m.state_length, 1u);
  CHECK_EQ(m.rules.size(), std::size_t(1));
  CHECK_EQ(m.rules[0].rate.size(), std::size_t(2));
  CHECK(m.rules[0].rate[0].empty());
  CHECK_EQ(m.cell_lo[0], 1);
  CHECK_EQ(m.cell_hi[0], 4);
  CHECK_EQ(m.rules[0].updates[0].op == UpdateOp::Sub, true);
  CHECK_EQ(m.sites.size(), std::size_t(4));
  CHECK(describe_state(m, std::vector<std::int32_t>{3}.data()) == "k=3");
}

TEST(malformed_models_name_the_field) {
  CHECK(model_error(R"("format":"phasic-compiled-model")", R"("format":"other")") == "format");
  CHECK(model_error(R"("version":1)", R"("version":2)") == "version");
  CHECK(model_error(R"("stateLength":1)", R"("stateLength":-1)") == "stateLength");
  CHECK(model_error(R"("stateLength":1)", R"("stateLength":2)") == "variables");
  CHECK(model_error(R"("offset":0)", R"("offset":1)") == "variables[0].offset");
  CHECK(model_error(R"("lo":1,"hi":4)", R"("lo":5,"hi":4)") == "variables[0].hi");
  CHECK(model_error(R"("state":[4])", R"("state":[4,0])") == "starts[0].state");
  CHECK(model_error(R"("state":[4])", R"("state":[5])") == "starts[0].state[0]");
  CHECK(model_error(R"("state":[4])", R"("state":[2.5])") == "starts[0].state[0]");
  CHECK(model_error(R"("probability":1.0)", R"("probability":0)") == "starts[0].probability");
  CHECK(model_error(R"("starts":[{"probability":1.0,"state":[4],"site":-1}])",
                    R"("starts":[{"probability":0.7,"state":[4]},{"probability":0.7,"state":[3]}])") == "starts");
  CHECK(model_error(R"("starts":[{"probability":1.0,"state":[4],"site":-1}])", R"("starts":[])") == "starts");
  CHECK(model_error(R"("site":-1}])", R"("site":4}])") == "starts[0].site");
  CHECK(model_error(R"("steps":[{"when":[3,0,0,2,18],"site":-1}])", R"("steps":[{"when":[3,0,0,2,99]}])") ==
        "rules[0].steps[0].when[4]");
  CHECK(model_error(R"("steps":[{"when":[3,0,0,2,18],"site":-1}])", R"("steps":[{"when":[3,1,0,2,18]}])") ==
        "rules[0].steps[0].when[1]");
  CHECK(model_error(R"("steps":[{"when":[3,0,0,2,18],"site":-1}])", R"("steps":[{"let":0,"code":[0,1]}])") ==
        "rules[0].steps[0].let");
  CHECK(model_error(R"("steps":[{"when":[3,0,0,2,18],"site":-1}])", R"("steps":[{"site":1}])") == "rules[0].steps[0]");
  CHECK(model_error(R"("rate":[null,[3,0,3,0,0,1,8,9,0,2,10]])", R"("rate":[[0,1]])") == "rules[0].rate");
  CHECK(model_error(R"("rate":[null,[3,0,3,0,0,1,8,9,0,2,10]])", R"("rate":[null,[3,0,3,0]])") == "rules[0].rate[1]");
  CHECK(model_error(R"("rateSite":1)", R"("rateSite":"x")") == "rules[0].rateSite");
  CHECK(model_error(R"("op":"sub")", R"("op":"mul")") == "rules[0].updates[0].op");
  CHECK(model_error(R"("cell":[0,0])", R"("cell":[1,0])") == "rules[0].updates[0].cell[1]");
  CHECK(model_error(R"("loops":[])", R"("loops":[{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}])") ==
        "rules[0].loops[0].slot");
  CHECK(model_error(R"({"name":"time","locals":0,"code":[0,1]},)", "") == "rewards");
  CHECK(model_error(R"("name":"total_length")", R"("name":"tmrca")") == "rewards[2].name");
  CHECK(model_error(R"("code":[3,0]})", R"("code":[3,0],"locals":1})") == "");  // duplicate key: a JSON error
  CHECK(model_error(R"("sites":[[3,0,3,10],)", R"("sites":[[3,0,3],)") == "sites[0]");
  CHECK(model_error(R"("absorb":[])", R"("absorb":[{"locals":0,"code":[0,1,0,1]}])") == "absorb[0].code");
  CHECK(model_error(R"("absorb":[])", R"("absorb":{})") == "absorb");
  CHECK(model_error(R"("params":[{"name":"theta","default":1.0,"lo":null,"hi":null}])",
                    R"("params":[{"name":"theta"}])") == "params[0].default");
  CHECK(model_error(R"("rules":[{"name":"coalesce")", R"("rules":[{"nom":"coalesce")") == "rules[0].name");
  // Two rules with one name.
  std::string text = fixtures::rabbits(2);
  CHECK(model_error(R"("name":"hop_left")", R"("name":"hop_right")", text) == "rules[1].name");
}

TEST(a_json_syntax_error_reports_its_position) {
  bool thrown = false;
  try {
    load_compiled_model(json::parse("{\"format\": }"));
  } catch (const json::ParseError& e) {
    thrown = e.line == 1 && e.column == 12;
  }
  CHECK(thrown);
}

TEST_MAIN()
