#include "engine/run_summary.hpp"

#include <charconv>
#include <cstring>
#include <type_traits>

#include "base/error.hpp"
#include "engine/json_writer.hpp"

namespace phasic {

const char* trace_source_name(TraceSource s) {
  switch (s) {
    case TraceSource::Recorded: return "recorded";
    case TraceSource::Memory: return "memory";
    case TraceSource::Disk: return "disk";
    case TraceSource::Trivial: return "trivial";
  }
  return "trivial";
}

std::uint32_t RunSummary::count(TraceSource s) const {
  std::uint32_t n = 0;
  for (const ComponentSummary& c : components) n += c.source == s;
  return n;
}

RunSummary RunSummary::as_reused(TraceSource source) const {
  RunSummary s = *this;
  s.mark_reused(source);
  return s;
}

void RunSummary::mark_reused(TraceSource source) {
  for (ComponentSummary& c : components)
    if (c.source != TraceSource::Trivial) {
      c.source = source;
      c.record_ms = 0;
    }
}

namespace {

// Appends text to a buffer of known room (the caller sized it for the longest member).
struct Line {
  char* at;
  void put(std::string_view text) {
    std::memcpy(at, text.data(), text.size());
    at += text.size();
  }
  void put(std::uint64_t v) { at = std::to_chars(at, at + 20, v).ptr; }
};

}  // namespace

void RunSummary::write_decomposition(JsonWriter& w) const {
  // Each component's object is assembled in a buffer and appended whole, with exactly
  // the text JsonWriter's members would give (names and sources need no escapes): a
  // reused run writes this at every θ, thousands of components on large models, and
  // member by member it was ≈ 0.7 ms of two-locus n = 9's 5.8 ms (decision 46).
  w.reserve(components.size() * 256 + component_edges.size() * 16);
  w.begin_object().key("sccs").begin_array();
  char buffer[512];  // the longest object: 9 numbers of ≤ 20 digits, a double, a key, names ≈ 330
  for (std::uint32_t id = 0; id < components.size(); ++id) {
    const ComponentSummary& c = components[id];
    Line l{buffer};
    l.put("{\"id\":"), l.put(id);
    l.put(",\"vertices\":"), l.put(c.vertices);
    l.put(",\"internalEdges\":"), l.put(c.internal_edges);
    l.put(",\"exitEdges\":"), l.put(c.exit_edges);
    l.put(c.absorbing ? ",\"absorbing\":true" : ",\"absorbing\":false");
    l.put(",\"source\":\""), l.put(trace_source_name(c.source));
    l.put("\",\"operations\":"), l.put(c.operations);
    l.put(",\"bytes\":"), l.put(c.bytes);
    l.put(",\"recordMs\":"), l.at = JsonWriter::number(l.at, c.record_ms);
    l.put(",\"key\":\"");
    if (c.source != TraceSource::Trivial) {
      char key[32];
      c.key.hex(key);
      l.put(std::string_view(key, sizeof key));
    }
    l.put("\",\"firstVertex\":"), l.put(c.first_vertex);
    l.put("}");
    w.raw(std::string_view(buffer, std::size_t(l.at - buffer)));
  }
  w.end_array().key("edges").begin_array();
  for (const auto& [from, to] : component_edges) {
    Line l{buffer};
    l.put("["), l.put(from), l.put(","), l.put(to), l.put("]");
    w.raw(std::string_view(buffer, std::size_t(l.at - buffer)));
  }
  w.end_array().end_object();
}

Key run_summary_key(std::string_view model_text, std::uint32_t min_block_size) {
  Hasher h(0x72756e73'756d6d61ULL);  // distinct from block and model trace keys by seed
  h.value(min_block_size);
  h.update(model_text.data(), model_text.size());
  return h.finish();
}

// The encoding is private to one engine process (the memory cache): host byte order,
// plain fields in declaration order, and a u64 count before every sequence.
namespace {

class Writer {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* b = reinterpret_cast<const std::uint8_t*>(&v);
    out.insert(out.end(), b, b + sizeof v);
  }
  void put(const std::string& s) {
    put<std::uint64_t>(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
  std::vector<std::uint8_t> out;
};

// Checked reads: a summary also comes from disk (engine/run_entry.hpp), where a
// checksummed file may still have been crafted.
[[noreturn]] void corrupt() { throw EngineError("corrupt run summary"); }

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  template <class T>
  T get() {
    if (in_.size() - at_ < sizeof(T)) corrupt();
    T v;
    std::memcpy(&v, in_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::string text() {
    const auto n = get<std::uint64_t>();
    if (n > in_.size() - at_) corrupt();
    std::string s(reinterpret_cast<const char*>(in_.data() + at_), n);
    at_ += n;
    return s;
  }
  // A count of items of at least `width` bytes each, no more than what is left holds.
  std::uint64_t count(std::size_t width) {
    const auto n = get<std::uint64_t>();
    if (n > (in_.size() - at_) / width) corrupt();
    return n;
  }
  bool flag() {
    const auto b = get<std::uint8_t>();
    if (b > 1) corrupt();
    return b == 1;
  }
  bool done() const { return at_ == in_.size(); }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t at_ = 0;
};

}  // namespace

std::vector<std::uint8_t> encode_run_summary(const RunSummary& s) {
  Writer w;
  w.put(s.model);
  w.put(s.vertices), w.put(s.edges), w.put(s.absorbing), w.put(s.largest), w.put(s.blocks);
  w.put<std::uint64_t>(s.components.size());
  for (const ComponentSummary& c : s.components) {
    w.put(c.vertices), w.put(c.first_vertex), w.put(c.internal_edges), w.put(c.exit_edges);
    w.put(c.absorbing), w.put(c.source), w.put(c.operations), w.put(c.bytes), w.put(c.record_ms), w.put(c.key);
  }
  w.put<std::uint64_t>(s.component_edges.size());
  for (const auto& e : s.component_edges) w.put(e.first), w.put(e.second);
  w.put<std::uint64_t>(s.rule_firings.size());
  for (const auto& [name, count] : s.rule_firings) w.put(name), w.put(count);
  w.put<std::uint64_t>(s.warnings.size());
  for (const ExploreWarning& x : s.warnings) w.put(x.message), w.put(x.site), w.put(x.rule);
  w.put(s.trace_key);
  return std::move(w.out);
}

RunSummary decode_run_summary(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  RunSummary s;
  s.model = r.text();
  s.vertices = r.get<std::uint64_t>();
  s.edges = r.get<std::uint64_t>();
  s.absorbing = r.get<std::uint64_t>();
  s.largest = r.get<std::uint32_t>();
  s.blocks = r.get<std::uint32_t>();
  s.components.resize(r.count(66));
  for (ComponentSummary& c : s.components) {
    c.vertices = r.get<std::uint32_t>();
    c.first_vertex = r.get<std::uint32_t>();
    c.internal_edges = r.get<std::uint64_t>();
    c.exit_edges = r.get<std::uint64_t>();
    c.absorbing = r.flag();
    c.source = r.get<TraceSource>();
    if (static_cast<std::uint8_t>(c.source) > static_cast<std::uint8_t>(TraceSource::Disk)) corrupt();
    c.operations = r.get<std::uint64_t>();
    c.bytes = r.get<std::uint64_t>();
    c.record_ms = r.get<double>();
    c.key = r.get<Key>();
  }
  s.component_edges.resize(r.count(8));
  for (auto& e : s.component_edges) {
    e.first = r.get<std::uint32_t>();
    e.second = r.get<std::uint32_t>();
  }
  s.rule_firings.resize(r.count(16));
  for (auto& [name, count] : s.rule_firings) {
    name = r.text();
    count = r.get<std::uint64_t>();
  }
  s.warnings.resize(r.count(20));
  for (ExploreWarning& x : s.warnings) {
    x.message = r.text();
    x.site = r.get<int>();
    x.rule = r.text();
  }
  s.trace_key = r.get<Key>();
  if (!r.done()) corrupt();
  return s;
}

}  // namespace phasic
