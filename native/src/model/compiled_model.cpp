// Loading the compiled model: every field is read through json::Field, so a malformed
// file is rejected with an error naming the field, before exploration starts.
#include "model/compiled_model.hpp"

#include <cmath>
#include <limits>
#include <set>

#include "base/error.hpp"

namespace phasic {

namespace {

constexpr std::int64_t kInt32Min = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kMaxStateLength = 1 << 20;
constexpr std::int64_t kMaxLocals = 1 << 16;
// A state in a message lists at most this many cells: one of a million cells listed
// every zero, and the message (an editor diagnostic too) ran to 3 MB.
constexpr std::uint32_t kDescribedCells = 64;

struct Loader {
  CompiledModel m;

  int site(const json::Field& f) const { return int(f.integer(-1, std::int64_t(m.sites.size()) - 1)); }
  int optional_site(const json::Field& parent) const { return parent.has("site") ? site(parent.get("site")) : -1; }

  Program program(const json::Field& code, std::uint32_t locals) const {
    return decode_program(code, ProgramScope{locals, m.state_length, std::uint32_t(m.sites.size())});
  }

  std::optional<double> optional_number(const json::Field& parent, const char* key) const {
    if (!parent.has(key)) return std::nullopt;
    const json::Field f = parent.get(key);
    if (f.is_null()) return std::nullopt;
    return f.finite();
  }

  void header(const json::Field& root) {
    if (root.get("format").string() != "phasic-compiled-model")
      root.get("format").fail("must be \"phasic-compiled-model\"");
    const json::Field version = root.get("version");
    if (version.number() != 1)
      version.fail("unsupported version " + format_number(version.number()) + " (this engine reads version 1)");
    m.name = root.get("name").string();
  }

  void sites(const json::Field& list) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json::Field s = list.at(i);
      if (s.size() != 4) s.fail("a site is [line, column, endLine, endColumn]");
      m.sites.push_back(SourceRange{int(s.at(0).integer(0, kInt32Max)), int(s.at(1).integer(0, kInt32Max)),
                                    int(s.at(2).integer(0, kInt32Max)), int(s.at(3).integer(0, kInt32Max))});
    }
  }

  void params(const json::Field& list) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json::Field p = list.at(i);
      ModelParam param;
      param.name = p.get("name").string();
      if (!names.insert(param.name).second) p.get("name").fail("duplicate parameter \"" + param.name + "\"");
      param.default_value = p.get("default").finite();
      param.lo = optional_number(p, "lo");
      param.hi = optional_number(p, "hi");
      m.params.push_back(std::move(param));
    }
  }

  void variables(const json::Field& list) {
    std::uint32_t next = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json::Field v = list.at(i);
      ModelVariable var;
      var.name = v.get("name").string();
      var.offset = std::uint32_t(v.get("offset").integer(0, kMaxStateLength));
      if (var.offset != next)
        v.get("offset").fail("must be " + std::to_string(next) + " (variables are laid out in order, without gaps)");
      const json::Field dims = v.get("dims");
      std::uint64_t cells = 1;
      for (std::size_t d = 0; d < dims.size(); ++d) {
        const auto dim = dims.at(d).integer(1, kMaxStateLength);
        var.dims.push_back(std::uint32_t(dim));
        cells *= std::uint64_t(dim);
        if (cells > std::uint64_t(m.state_length))
          dims.fail("the variable does not fit in stateLength " + std::to_string(m.state_length));
      }
      var.cells = std::uint32_t(cells);
      var.lo = v.get("lo").integer(kInt32Min, kInt32Max);
      const json::Field hi = v.get("hi");
      if (!hi.is_null()) {
        var.hi = hi.integer(kInt32Min, kInt32Max);
        if (*var.hi < var.lo)
          hi.fail("upper bound " + std::to_string(*var.hi) + " is below the lower bound " + std::to_string(var.lo));
      }
      if (std::uint64_t(var.offset) + cells > m.state_length)
        v.fail("cells " + std::to_string(var.offset) + ".." + std::to_string(var.offset + cells - 1) +
               " exceed stateLength " + std::to_string(m.state_length));
      next = var.offset + var.cells;
      for (std::uint32_t c = 0; c < var.cells; ++c) {
        m.cell_variable.push_back(std::uint32_t(m.variables.size()));
        m.cell_lo.push_back(std::int32_t(var.lo));
        m.cell_hi.push_back(std::int32_t(var.hi ? *var.hi : kInt32Max));
      }
      m.variables.push_back(std::move(var));
    }
    if (next != m.state_length)
      list.fail("variables cover " + std::to_string(next) + " cells, stateLength is " + std::to_string(m.state_length));
  }

  void starts(const json::Field& list) {
    if (list.size() == 0) list.fail("at least one initial state is required");
    double total = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json::Field s = list.at(i);
      ModelStart start;
      const json::Field prob = s.get("probability");
      start.probability = prob.finite();
      if (!(start.probability > 0 && start.probability <= 1)) prob.fail("a start probability must be in (0, 1]");
      total += start.probability;
      const json::Field state = s.get("state");
      if (state.size() != m.state_length)
        state.fail("must have stateLength = " + std::to_string(m.state_length) + " cells");
      for (std::uint32_t c = 0; c < m.state_length; ++c) {
        const json::Field cell = state.at(c);
        start.state.push_back(std::int32_t(cell.integer(m.cell_lo[c], m.cell_hi[c])));
      }
      start.site = optional_site(s);
      m.starts.push_back(std::move(start));
    }
    // Probabilities are decimal literals; allow their rounding.
    if (total > 1 + 1e-9) list.fail("start probabilities sum to " + format_number(total) + ", more than 1");
  }

  StandaloneProgram standalone(const json::Field& f) {
    StandaloneProgram p;
    p.locals = std::uint32_t(f.get("locals").integer(0, kMaxLocals));
    p.program = program(f.get("code"), p.locals);
    p.site = optional_site(f);
    return p;
  }

  void absorb(const json::Field& list) {
    for (std::size_t i = 0; i < list.size(); ++i) m.absorb.push_back(standalone(list.at(i)));
  }

  void rewards(const json::Field& list) {
    if (list.size() == 0 || list.at(0).get("name").string() != "time")
      list.fail("the first reward must be the built-in \"time\"");
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json::Field r = list.at(i);
      StandaloneProgram reward = standalone(r);
      reward.name = r.get("name").string();
      if (!names.insert(reward.name).second) r.get("name").fail("duplicate reward \"" + reward.name + "\"");
      m.rewards.push_back(std::move(reward));
    }
  }

  Rule rule(const json::Field& f) {
    Rule r;
    r.name = f.get("name").string();
    r.site = optional_site(f);
    r.locals = std::uint32_t(f.get("locals").integer(0, kMaxLocals));
    const json::Field loops = f.get("loops");
    for (std::size_t i = 0; i < loops.size(); ++i) {
      const json::Field l = loops.at(i);
      RuleLoop loop;
      loop.name = l.get("name").string();
      if (r.locals == 0) l.get("slot").fail("the rule declares no local slots");
      loop.slot = std::uint32_t(l.get("slot").integer(0, std::int64_t(r.locals) - 1));
      loop.lo = program(l.get("lo"), r.locals);
      loop.hi = program(l.get("hi"), r.locals);
      r.loops.push_back(std::move(loop));
    }
    const json::Field steps = f.get("steps");
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const json::Field s = steps.at(i);
      RuleStep step;
      const bool let = s.has("let"), when = s.has("when");
      if (let == when) s.fail("a step has either \"let\" (with \"code\") or \"when\"");
      step.is_let = let;
      if (let) {
        if (r.locals == 0) s.get("let").fail("the rule declares no local slots");
        step.slot = std::uint32_t(s.get("let").integer(0, std::int64_t(r.locals) - 1));
        step.program = program(s.get("code"), r.locals);
      } else {
        step.program = program(s.get("when"), r.locals);
      }
      step.site = optional_site(s);
      r.steps.push_back(std::move(step));
    }
    const json::Field rate = f.get("rate");
    if (rate.size() != m.params.size() + 1)
      rate.fail("must have " + std::to_string(m.params.size() + 1) + " entries (c0 and one per parameter), has " +
                std::to_string(rate.size()));
    for (std::size_t k = 0; k < rate.size(); ++k) {
      const json::Field c = rate.at(k);
      r.rate.push_back(c.is_null() ? Program{} : program(c, r.locals));
    }
    r.rate_site = f.has("rateSite") ? site(f.get("rateSite")) : -1;
    const json::Field updates = f.get("updates");
    for (std::size_t i = 0; i < updates.size(); ++i) {
      const json::Field u = updates.at(i);
      RuleUpdate up;
      up.cell = program(u.get("cell"), r.locals);
      const std::string& op = u.get("op").string();
      if (op == "set")
        up.op = UpdateOp::Set;
      else if (op == "add")
        up.op = UpdateOp::Add;
      else if (op == "sub")
        up.op = UpdateOp::Sub;
      else
        u.get("op").fail("must be \"set\", \"add\" or \"sub\"");
      up.value = program(u.get("value"), r.locals);
      up.site = optional_site(u);
      r.updates.push_back(std::move(up));
    }
    return r;
  }

  void rules(const json::Field& list) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
      Rule r = rule(list.at(i));
      if (!names.insert(r.name).second) list.at(i).get("name").fail("duplicate rule \"" + r.name + "\"");
      m.rules.push_back(std::move(r));
    }
  }
};

void append_cells(std::string& out, const ModelVariable& v, const std::int32_t* cells, std::size_t dim) {
  if (dim == v.dims.size()) {
    out += std::to_string(*cells);
    return;
  }
  std::size_t stride = 1;
  for (std::size_t d = dim + 1; d < v.dims.size(); ++d) stride *= v.dims[d];
  out += '[';
  for (std::uint32_t i = 0; i < v.dims[dim]; ++i) {
    if (i) out += ", ";
    append_cells(out, v, cells + i * stride, dim + 1);
  }
  out += ']';
}

}  // namespace

CompiledModel load_compiled_model(const json::Value& root_value) {
  const json::Field root(root_value, "");
  Loader l;
  l.header(root);
  l.m.state_length = std::uint32_t(root.get("stateLength").integer(0, kMaxStateLength));
  l.sites(root.get("sites"));
  l.params(root.get("params"));
  l.variables(root.get("variables"));
  l.starts(root.get("starts"));
  l.absorb(root.get("absorb"));
  l.rules(root.get("rules"));
  l.rewards(root.get("rewards"));
  return std::move(l.m);
}

ModelInfo model_info(const CompiledModel& model) {
  ModelInfo info;
  info.name = model.name;
  for (const ModelParam& p : model.params) {
    info.param_names.push_back(p.name);
    info.param_defaults.push_back(p.default_value);
  }
  for (const StandaloneProgram& r : model.rewards) info.reward_names.push_back(r.name);
  for (const ModelVariable& v : model.variables) info.variables.push_back(StateVariable{v.name, v.offset, v.dims});
  for (const Rule& r : model.rules) info.rule_names.push_back(r.name);
  return info;
}

std::string describe_state(const CompiledModel& model, const std::int32_t* state) {
  std::string out;
  std::uint32_t shown = 0;    // cells written, of kDescribedCells
  std::uint64_t unshown = 0;  // nonzero cells past them
  const auto separate = [&] {
    if (!out.empty()) out += ", ";
  };
  for (const ModelVariable& v : model.variables) {
    if (shown + v.cells <= kDescribedCells) {
      separate();
      out += v.name;
      out += '=';
      append_cells(out, v, state + v.offset, 0);
      shown += v.cells;
      continue;
    }
    // Too many cells to list: the nonzero ones by name, while the budget lasts.
    bool any = false;
    for (std::uint32_t c = 0; c < v.cells; ++c) {
      const std::int32_t value = state[v.offset + c];
      if (value == 0) continue;
      any = true;
      if (shown >= kDescribedCells) {
        ++unshown;
        continue;
      }
      separate();
      out += describe_cell(model, v.offset + c);
      out += '=';
      out += std::to_string(value);
      ++shown;
    }
    separate();
    if (any) {
      out += "the other cells of ";
      out += v.name;
      out += " 0";
    } else {
      out += v.name;
      out += "=0 in all ";
      out += std::to_string(v.cells);
      out += " cells";
    }
  }
  if (unshown > 0) {
    out += " (and ";
    out += std::to_string(unshown);
    out += " more nonzero cells)";
  }
  return out;
}

std::string describe_cell(const CompiledModel& model, std::uint32_t cell) {
  const ModelVariable& v = model.variables[model.cell_variable[cell]];
  std::string out = v.name;
  std::uint32_t rest = cell - v.offset;
  std::vector<std::uint32_t> index(v.dims.size());
  for (std::size_t d = v.dims.size(); d-- > 0;) {
    index[d] = rest % v.dims[d];
    rest /= v.dims[d];
  }
  for (std::uint32_t i : index) {
    out += '[';
    out += std::to_string(i);
    out += ']';
  }
  return out;
}

}  // namespace phasic
