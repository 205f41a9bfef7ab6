// Reading a phasic graph: rows are checked with direct DOM access (graphs can have
// millions of rows), and a field path is built only when a row is rejected.
#include "graph/phasic_import.hpp"

#include <cmath>
#include <limits>

#include "base/error.hpp"
#include "model/program.hpp"

namespace phasic {

namespace {

constexpr std::int64_t kMaxStateLength = 1 << 20;
constexpr std::int64_t kMaxParams = 1 << 12;

// One transition row as read from the file: where it goes and which of the form's
// coefficients it carries.
struct RawEdge {
  VertexId from, to;
  std::uint64_t row;   // index into the owning table's rows
  std::uint8_t table;  // 0 edges, 1 constant_edges, 2 param_edges
};

const char* const kTables[3] = {"edges", "constant_edges", "param_edges"};

class Importer {
 public:
  explicit Importer(const json::Value& root) : root_(root, "") {}

  Exploration run() {
    n_ = std::uint32_t(root_.get("n_vertices").integer(1, std::int64_t(std::numeric_limits<VertexId>::max()) - 1));
    L_ = std::uint32_t(root_.get("state_length").integer(0, kMaxStateLength));
    P_ = std::uint32_t(root_.get("param_length").integer(0, kMaxParams));
    Graph& g = out_.graph;
    g.vertex_count = n_;
    g.state_length = L_;
    g.param_count = P_;
    out_.named_states = false;
    read_states();
    read_rows("edges", 3, 0);
    if (root_.has("constant_edges")) read_rows("constant_edges", 3, 1);
    read_rows("param_edges", P_ + 2, 2);
    if (root_.has("start_param_edges") && root_.get("start_param_edges").size() != 0)
      root_.get("start_param_edges")
          .fail(
              "parameterized edges out of the starting vertex cannot be imported (S's edges are initial "
              "probabilities)");
    build_edges();
    rewards();
    info();
    return std::move(out_);
  }

 private:
  [[noreturn]] static void fail_at(const std::string& path, const std::string& what) {
    throw EngineError(path + ": " + what, -1, {}, path);
  }

  static std::string cell_path(const std::string& table, std::uint64_t row, std::uint64_t col) {
    return table + "[" + std::to_string(row) + "][" + std::to_string(col) + "]";
  }

  // The rows of an array-of-arrays field, each checked to have `width` entries.
  const json::Array& rows(const std::string& name, std::uint32_t width) const {
    const json::Field f = root_.get(name);
    const json::Array& a = [&]() -> const json::Array& {
      f.expect(json::Type::Array);
      return f.value().as_array();
    }();
    for (std::size_t i = 0; i < a.size(); ++i) {
      const json::Value& r = a[i];
      if (r.type() != json::Type::Array || r.as_array().size() != width)
        fail_at(json::element_path(name, i), "expected an array of " + std::to_string(width) + " numbers");
    }
    return a;
  }

  static double number_at(const json::Array& row, const std::string& table, std::uint64_t i, std::uint32_t col) {
    const json::Value& v = row[col];
    if (v.type() != json::Type::Number)
      fail_at(cell_path(table, i, col), std::string("expected a number, found ") + json::type_name(v.type()));
    return v.as_number();
  }

  VertexId vertex_at(const json::Array& row, const std::string& table, std::uint64_t i, std::uint32_t col,
                     bool is_source) const {
    const double v = number_at(row, table, i, col);
    if (!(v >= 0 && v < double(n_)) || v != std::floor(v))
      fail_at(cell_path(table, i, col), "vertex " + format_number(v) + " is not in 0.." + std::to_string(n_ - 1));
    if (v == 0)
      fail_at(cell_path(table, i, col), is_source ? "edges out of the starting vertex (vertex 0) belong in start_edges"
                                                  : "no edge may enter the starting vertex (vertex 0)");
    return VertexId(v);
  }

  double weight_at(const json::Array& row, const std::string& table, std::uint64_t i, std::uint32_t col) const {
    const double w = number_at(row, table, i, col);
    if (!(w >= 0) || !std::isfinite(w))
      fail_at(cell_path(table, i, col), "weight " + format_number(w) + " must be finite and >= 0");
    return w == 0 ? 0.0 : w;
  }

  void read_states() {
    const json::Array& a = rows("states", L_);
    if (a.size() != n_)
      root_.get("states").fail("has " + std::to_string(a.size()) + " rows, n_vertices is " + std::to_string(n_));
    Graph& g = out_.graph;
    g.states.reserve(std::uint64_t(n_) * L_);
    for (std::uint32_t u = 0; u < n_; ++u) {
      const json::Array& row = a[u].as_array();
      for (std::uint32_t c = 0; c < L_; ++c) {
        const double v = number_at(row, "states", u, c);
        if (!(v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max()) ||
            v != std::floor(v))
          fail_at(cell_path("states", u, c), "a state cell must be a 32-bit integer, found " + format_number(v));
        if (u == 0 && v != 0)
          fail_at(cell_path("states", 0, c), "row 0 is the starting vertex, whose state is all zeros");
        g.states.push_back(std::int32_t(v));
      }
    }
  }

  // Validates a table and queues its non-trivial rows.
  void read_rows(const std::string& name, std::uint32_t width, std::uint8_t table) {
    const json::Array& a = rows(name, width);
    tables_[table] = &a;
    for (std::uint64_t i = 0; i < a.size(); ++i) {
      const json::Array& row = a[i].as_array();
      const VertexId from = vertex_at(row, name, i, 0, true);
      const VertexId to = vertex_at(row, name, i, 1, false);
      bool any = false;
      for (std::uint32_t c = 2; c < width; ++c) any = weight_at(row, name, i, c) != 0 || any;
      if (from == to) {
        ++self_loops_;
        if (any) looped_.push_back(RawEdge{from, to, i, table});
        continue;
      }
      if (any) raw_.push_back(RawEdge{from, to, i, table});
    }
  }

  // The form of a raw row, added into `form` (stride P + 1).
  void add_form(const RawEdge& e, double* form) const {
    const json::Array& row = (*tables_[e.table])[e.row].as_array();
    if (e.table == 2)
      for (std::uint32_t k = 0; k < P_; ++k) form[k + 1] += row[2 + k].as_number();
    else
      form[0] += row[2].as_number();
  }

  void build_edges() {
    Graph& g = out_.graph;
    const std::uint32_t stride = P_ + 1;
    // S's edges: start_edges, merged by target.
    const json::Array& starts = rows("start_edges", 2);
    GraphVector<VertexId> mark_source(n_, std::numeric_limits<VertexId>::max());
    GraphVector<std::uint64_t> mark_edge(n_, 0);
    auto add = [&](VertexId u, VertexId v) -> double* {
      if (mark_source[v] == u) return g.coeffs.data() + mark_edge[v] * stride;
      mark_source[v] = u;
      mark_edge[v] = g.edge_target.size();
      g.edge_target.push_back(v);
      g.coeffs.insert(g.coeffs.end(), stride, 0.0);
      return g.coeffs.data() + mark_edge[v] * stride;
    };
    g.edge_begin.push_back(0);
    // The initial distribution, checked as a compiled model's start probabilities are
    // (model/compiled_model.cpp): some mass, and at most 1 in all.
    double total = 0;
    for (std::uint64_t i = 0; i < starts.size(); ++i) {
      const json::Array& row = starts[i].as_array();
      const VertexId to = vertex_at(row, "start_edges", i, 0, false);
      const double w = weight_at(row, "start_edges", i, 1);
      total += w;
      if (w != 0) add(0, to)[0] += w;
    }
    if (total == 0) root_.get("start_edges").fail("at least one initial state with a positive weight is required");
    if (total > 1 + 1e-9)
      root_.get("start_edges").fail("start weights sum to " + format_number(total) + ", more than 1");
    // The other rows, grouped by source with a stable counting sort.
    GraphVector<std::uint64_t> begin(std::uint64_t(n_) + 1, 0);
    for (const RawEdge& e : raw_) ++begin[e.from + 1];
    for (std::uint32_t u = 0; u < n_; ++u) begin[u + 1] += begin[u];
    CountedVector<RawEdge, Category::Graph> sorted(raw_.size());
    {
      GraphVector<std::uint64_t> next(begin.begin(), begin.end() - 1);
      for (const RawEdge& e : raw_) sorted[next[e.from]++] = e;
    }
    decltype(raw_)().swap(raw_);
    for (VertexId u = 1; u < n_; ++u) {
      g.edge_begin.push_back(g.edge_target.size());
      for (std::uint64_t k = begin[u]; k < begin[u + 1]; ++k) add_form(sorted[k], add(u, sorted[k].to));
    }
    g.edge_begin.push_back(g.edge_target.size());
    // Each cell was checked finite; only the sum of merged rows can overflow.
    for (VertexId u = 1; u < n_; ++u)
      for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
        for (std::uint32_t k = 0; k < stride; ++k)
          if (!std::isfinite(g.coeffs[e * stride + k]))
            throw EngineError("the rows from " + describe_vertex(out_, u) + " to " +
                              describe_vertex(out_, g.edge_target[e]) + " sum to a " +
                              (k == 0 ? std::string("weight") : "coefficient of p" + std::to_string(k)) + " of " +
                              format_number(g.coeffs[e * stride + k]) + ", but it must be finite");
    // A vertex whose only rows are self-loops is left by nothing, yet it is not
    // absorbing: a transition fires there (the rule for compiled models too).
    for (const RawEdge& loop : looped_)
      if (g.absorbing(loop.from))
        fail_at(
            cell_path(kTables[loop.table], loop.row, 0),
            describe_vertex(out_, loop.from) + " can never reach an absorbing state: its only edges are self-loops");
    if (self_loops_ > 0)
      out_.warnings.push_back(
          ExploreWarning{"dropped " + std::to_string(self_loops_) + " self-loop(s) of the imported graph", -1, {}});
  }

  void rewards() {
    Graph& g = out_.graph;
    std::vector<std::uint32_t> cells;
    for (std::uint32_t c = 0; c < L_; ++c) {
      bool non_negative = true;
      for (VertexId u = 1; u < n_ && non_negative; ++u) non_negative = g.state(u)[c] >= 0;
      if (non_negative)
        cells.push_back(c);
      else
        out_.warnings.push_back(ExploreWarning{"state cell " + std::to_string(c) +
                                                   " has negative values, so it is not offered as reward s" +
                                                   std::to_string(c),
                                               -1,
                                               {}});
    }
    g.reward_count = std::uint32_t(1 + cells.size());
    g.rewards.assign(std::uint64_t(g.reward_count) * n_, 0.0);
    out_.info.reward_names.push_back("time");
    for (VertexId u = 1; u < n_; ++u) g.rewards[u] = 1.0;
    for (std::size_t r = 0; r < cells.size(); ++r) {
      out_.info.reward_names.push_back(std::string("s").append(std::to_string(cells[r])));
      for (VertexId u = 1; u < n_; ++u) g.rewards[(r + 1) * n_ + u] = g.state(u)[cells[r]];
    }
  }

  void info() {
    ModelInfo& info = out_.info;
    info.name = "phasic graph";
    for (std::uint32_t k = 1; k <= P_; ++k) {
      info.param_names.push_back(std::string("p").append(std::to_string(k)));
      info.param_defaults.push_back(1.0);
    }
    if (L_ > 0) info.variables.push_back(StateVariable{"s", 0, {L_}});
  }

  json::Field root_;
  Exploration out_;
  std::uint32_t n_ = 0, L_ = 0, P_ = 0;
  const json::Array* tables_[3] = {nullptr, nullptr, nullptr};
  CountedVector<RawEdge, Category::Graph> raw_;
  std::uint64_t self_loops_ = 0;
  CountedVector<RawEdge, Category::Graph> looped_;  // self-loops of positive weight
};

}  // namespace

Exploration import_phasic_graph(const json::Value& root) { return Importer(root).run(); }

}  // namespace phasic
