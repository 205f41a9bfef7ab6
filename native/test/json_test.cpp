#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "check.hpp"
#include "engine/json_writer.hpp"
#include "engine/run_summary.hpp"
#include "json/json.hpp"

using namespace phasic;
using json::Type;

static bool rejects(const std::string& text) {
  try {
    json::parse(text);
  } catch (const json::ParseError&) {
    return true;
  }
  return false;
}

static json::ParseError parse_error(const std::string& text) {
  try {
    json::parse(text);
  } catch (const json::ParseError& e) {
    return e;
  }
  return json::ParseError("no error", 0, 0, 0);
}

TEST(parses_every_kind_of_value) {
  const json::Value v = json::parse(R"( {"a": [1, -2.5, 3e2, 0], "b": true, "c": false, "d": null, "e": "x"} )");
  CHECK(v.type() == Type::Object);
  const json::Array& a = v.find("a")->as_array();
  CHECK_EQ(a.size(), std::size_t(4));
  CHECK_EQ(a[0].as_number(), 1.0);
  CHECK_EQ(a[1].as_number(), -2.5);
  CHECK_EQ(a[2].as_number(), 300.0);
  CHECK_EQ(a[3].as_number(), 0.0);
  CHECK(v.find("b")->as_bool());
  CHECK(!v.find("c")->as_bool());
  CHECK(v.find("d")->is_null());
  CHECK(v.find("e")->as_string() == "x");
  CHECK(v.find("missing") == nullptr);
  // Members keep document order.
  CHECK(v.as_object()[0].key == "a" && v.as_object()[4].key == "e");
}

TEST(scalars_and_empty_containers_are_documents) {
  CHECK_EQ(json::parse("42").as_number(), 42.0);
  CHECK(json::parse("\"\"").as_string().empty());
  CHECK(json::parse("[]").as_array().empty());
  CHECK(json::parse("{}").as_object().empty());
  CHECK(json::parse("\xEF\xBB\xBF[1]").as_array().size() == 1);
}

TEST(numbers_follow_the_json_grammar) {
  CHECK_EQ(json::parse("0.1").as_number(), 0.1);
  CHECK_EQ(json::parse("-0").as_number(), 0.0);
  CHECK_EQ(json::parse("1E-3").as_number(), 0.001);
  CHECK_EQ(json::parse("2.5e+4").as_number(), 25000.0);
  CHECK_EQ(json::parse("123456789012345678").as_number(), 123456789012345678.0);
  CHECK_EQ(json::parse("0.0000e999999").as_number(), 0.0);  // zero stays zero
  CHECK_EQ(json::parse("0e-400").as_number(), 0.0);
  CHECK(std::signbit(json::parse("-0.0e-999").as_number()));
  // A subnormal is what was written, to fewer digits; below half the least one a
  // literal would read as 0, and is refused (decision 96), as 1e400 is.
  CHECK_EQ(json::parse("1e-310").as_number(), 1e-310);
  CHECK_EQ(json::parse("3e-324").as_number(), 4.9406564584124654e-324);
  for (const char* tiny : {"1e-400", "-1e-400", "2e-324", "0.000001e-320", "1e-99999999999999999999"})
    CHECK(rejects(tiny));
  CHECK(rejects("1e400"));
  CHECK(rejects("-1e99999999999999999999"));
  for (const char* bad : {"01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "1.5.2"})
    CHECK(rejects(bad));
}

TEST(strings_decode_escapes_and_utf8) {
  CHECK(json::parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
  CHECK(json::parse(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
  // A surrogate pair is one code point (U+1F600).
  CHECK(json::parse(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");
  CHECK(json::parse("\"\xC3\xA9\xF0\x9F\x98\x80\"").as_string() == "\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(rejects(R"("\ud83d")"));        // lone high surrogate
  CHECK(rejects(R"("\ude00")"));        // lone low surrogate
  CHECK(rejects(R"("\ud83d\u0041")"));  // high surrogate + non-surrogate
  CHECK(rejects(R"("\x")"));
  CHECK(rejects(R"("\u12")"));
  CHECK(rejects(R"("\u12G4")"));
  CHECK(rejects("\"a\nb\""));              // raw control character
  CHECK(rejects("\"\xC3\""));              // truncated UTF-8
  CHECK(rejects("\"\xC0\xAF\""));          // overlong
  CHECK(rejects("\"\xED\xA0\x80\""));      // encoded surrogate
  CHECK(rejects("\"\xF5\x80\x80\x80\""));  // beyond U+10FFFF
  CHECK(rejects("\"abc"));
}

TEST(malformed_documents_are_rejected) {
  for (const char* bad : {"", "   ", "[1,]", "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":1 \"b\":2}", "[", "{",
                          "]", "tru", "nul", "[1]x", "{\"a\":1}{}", "// c\n1", "'a'", "[1,,2]"})
    CHECK(rejects(bad));
}

TEST(duplicate_keys_are_rejected_with_the_second_position) {
  const auto e = parse_error("{\"a\": 1,\n \"a\": 2}");
  CHECK_EQ(e.line, 2);
  CHECK_EQ(e.column, 2);
  CHECK_EQ(e.offset, std::size_t(10));
  // Also in an object large enough to take the sorting path.
  std::string big = "{";
  for (int i = 0; i < 40; ++i) big += "\"k" + std::to_string(i) + "\":0,";
  big += "\"k17\":1}";
  CHECK(rejects(big));
}

TEST(errors_carry_offset_line_and_column) {
  const auto e = parse_error("{\n  \"a\": [1, 2,\n   x]\n}");
  CHECK_EQ(e.line, 3);
  CHECK_EQ(e.column, 4);
  CHECK_EQ(e.offset, std::size_t(19));
  CHECK(std::string(e.what()).find("line 3, column 4") != std::string::npos);
}

TEST(nesting_is_limited) {
  const std::string ok = std::string(json::kMaxDepth, '[') + std::string(json::kMaxDepth, ']');
  CHECK(json::parse(ok).type() == Type::Array);
  const std::string deep = std::string(json::kMaxDepth + 1, '[') + std::string(json::kMaxDepth + 1, ']');
  const auto e = parse_error(deep);
  CHECK_EQ(e.offset, std::size_t(json::kMaxDepth));
  // A hostile, unterminated million-deep prefix fails fast without exhausting the stack.
  CHECK(rejects(std::string(1000000, '[')));
  CHECK(rejects(std::string(1000000, '{')));
}

TEST(arbitrary_bytes_never_crash) {
  // A cheap deterministic fuzz: every prefix and a set of byte mutations of a valid
  // document either parse or throw ParseError (the sanitizer build checks for UB).
  const std::string doc = R"({"format":"x","a":[1,-2.5e3,{"b":[true,false,null]}],"s":"\u00e9\ud83d\ude00"})";
  for (std::size_t n = 0; n <= doc.size(); ++n) {
    try {
      json::parse(doc.substr(0, n));
    } catch (const json::ParseError&) {
    }
  }
  std::uint32_t seed = 12345;
  for (int round = 0; round < 20000; ++round) {
    std::string m = doc;
    for (int k = 0; k < 3; ++k) {
      seed = seed * 1664525u + 1013904223u;
      m[(seed >> 8) % m.size()] = char(seed >> 24);
    }
    try {
      json::parse(m);
    } catch (const json::ParseError&) {
    }
  }
  CHECK(true);
}

TEST(fields_name_their_path_on_shape_errors) {
  const json::Value v = json::parse(R"({"rules": [{}, {}, {"rate": [null, "x"]}], "n": 2.5})");
  const json::Field root(v, "");
  const json::Field rate = root.get("rules").at(2).get("rate");
  CHECK_EQ(rate.size(), std::size_t(2));
  CHECK(rate.at(0).is_null());
  try {
    rate.at(1).number();
    CHECK(false);
  } catch (const EngineError& e) {
    CHECK(e.field == "rules[2].rate[1]");
    CHECK(std::string(e.what()) == "rules[2].rate[1]: expected a number, found a string");
  }
  try {
    root.get("rules").at(0).get("name");
    CHECK(false);
  } catch (const EngineError& e) {
    CHECK(e.field == "rules[0].name");
  }
  try {
    root.get("n").integer(0, 10);
    CHECK(false);
  } catch (const EngineError& e) {
    CHECK(e.field == "n");
    CHECK(std::string(e.what()).find("integer") != std::string::npos);
  }
  CHECK_THROWS(root.get("rules").at(3));
  CHECK_EQ(json::Field(json::parse("7"), "x").integer(0, 10), std::int64_t(7));
}

TEST(values_move_without_copying) {
  json::Value a = json::parse(R"({"x": [1, 2, 3]})");
  json::Value b = std::move(a);
  CHECK(a.is_null());
  CHECK_EQ(b.find("x")->as_array().size(), std::size_t(3));
  a = std::move(b);
  CHECK(b.is_null());
  CHECK_EQ(a.find("x")->as_array()[2].as_number(), 3.0);
  CHECK_EQ(sizeof(json::Value), std::size_t(16));
}

// The writer's numbers are printf's "%.17g" text (what it wrote before it used
// to_chars), so results read the same digits: checked on random bit patterns (every
// exponent, subnormals included) and on values with short and tied representations.
TEST(writer_numbers_are_printf_17g) {
  std::mt19937_64 random(15);
  std::vector<double> values{0.0,
                             -0.0,
                             1.0,
                             0.1,
                             1e-300,
                             5e-324,
                             1.7976931348623157e308,
                             123456789012345678.0,
                             2.5,
                             1e21,
                             1e-7,
                             0.000123,
                             9007199254740993.0};
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t bits = random();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isfinite(v)) values.push_back(v);
  }
  std::uniform_real_distribution<double> ms(0, 1000);
  for (int i = 0; i < 20000; ++i) values.push_back(ms(random));
  int wrong = 0;
  for (const double v : values) {
    JsonWriter w;
    w.value(v);
    char expected[40];
    std::snprintf(expected, sizeof expected, "%.17g", v);
    if (w.str() != expected && ++wrong <= 3) std::printf("  %s written as %s\n", expected, w.str().c_str());
  }
  CHECK_EQ(wrong, 0);
  JsonWriter special;
  special.begin_array().value(std::nan("")).value(1.0 / 0.0).value(-1.0 / 0.0).end_array();
  CHECK(special.str() == R"(["NaN","Infinity","-Infinity"])");
}

// A decomposition assembled in a buffer (RunSummary::write_decomposition) is the text
// the writer's members give, written here member by member.
TEST(decomposition_text_is_the_writers) {
  RunSummary s;
  std::mt19937_64 random(7);
  for (std::uint32_t i = 0; i < 300; ++i) {
    ComponentSummary c;
    c.vertices = std::uint32_t(random() % 1000);
    c.first_vertex = std::uint32_t(random());
    c.internal_edges = random();
    c.exit_edges = random() % 100;
    c.absorbing = i % 7 == 0;
    c.source = static_cast<TraceSource>(i % 4);
    c.operations = random();
    c.bytes = i == 5 ? 0 : random() >> (i % 64);
    c.record_ms = i % 3 == 0 ? 0.0 : double(random() % 100000) / 977.0;
    c.key = Key{random(), i == 9 ? 0 : random()};
    s.components.push_back(c);
    if (i > 0) s.component_edges.emplace_back(std::uint32_t(random() % i), i);
  }
  const char* names[] = {"trivial", "recorded", "memory", "disk"};
  JsonWriter expected;
  expected.begin_object().key("sccs").begin_array();
  for (std::uint32_t id = 0; id < s.components.size(); ++id) {
    const ComponentSummary& c = s.components[id];
    expected.begin_object()
        .field("id", id)
        .field("vertices", c.vertices)
        .field("internalEdges", c.internal_edges)
        .field("exitEdges", c.exit_edges)
        .field("absorbing", c.absorbing)
        .field("source", names[int(c.source)])
        .field("operations", c.operations)
        .field("bytes", c.bytes)
        .field("recordMs", c.record_ms)
        .field("key", c.source == TraceSource::Trivial ? std::string() : c.key.hex())
        .field("firstVertex", c.first_vertex)
        .end_object();
  }
  expected.end_array().key("edges").begin_array();
  for (const auto& [from, to] : s.component_edges) expected.begin_array().value(from).value(to).end_array();
  expected.end_array().end_object();
  JsonWriter w;
  w.begin_object().key("before").value(1.5).key("decomposition");
  s.write_decomposition(w);
  w.key("after").value(true).end_object();
  CHECK(w.str() == R"({"before":1.5,"decomposition":)" + expected.str() + R"(,"after":true})");
  json::parse(w.str());  // and it is one JSON document
}

TEST_MAIN()
