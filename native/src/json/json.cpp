// The JSON reader: a recursive-descent parser whose recursion depth is bounded by
// kMaxDepth, over a byte range it never reads outside of.
#include "json/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace phasic::json {

const char* type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "a boolean";
    case Type::Number: return "a number";
    case Type::String: return "a string";
    case Type::Array: return "an array";
    case Type::Object: return "an object";
  }
  return "?";
}

// ---- Value -------------------------------------------------------------------

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.type_ = Type::Number;
  v.number_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.string_ = new std::string(std::move(s));
  v.type_ = Type::String;
  return v;
}
Value Value::array(Array items) {
  Value v;
  v.array_ = new Array(std::move(items));
  v.type_ = Type::Array;
  return v;
}
Value Value::object(Object members) {
  Value v;
  v.object_ = new Object(std::move(members));
  v.type_ = Type::Object;
  return v;
}

Value::Value(Value&& other) noexcept : type_(other.type_), number_(0) {
  switch (type_) {
    case Type::Bool: bool_ = other.bool_; break;
    case Type::Number: number_ = other.number_; break;
    case Type::String: string_ = other.string_; break;
    case Type::Array: array_ = other.array_; break;
    case Type::Object: object_ = other.object_; break;
    case Type::Null: break;
  }
  other.type_ = Type::Null;
}

Value& Value::operator=(Value&& other) noexcept {
  if (this != &other) {
    release();
    new (this) Value(std::move(other));
  }
  return *this;
}

Value::~Value() { release(); }

void Value::release() noexcept {
  switch (type_) {
    case Type::String: delete string_; break;
    case Type::Array: delete array_; break;
    case Type::Object: delete object_; break;
    default: break;
  }
  type_ = Type::Null;
}

static void wrong_type(Type want, Type got) {
  throw EngineError(std::string("expected ") + type_name(want) + ", found " + type_name(got));
}

bool Value::as_bool() const {
  if (type_ != Type::Bool) wrong_type(Type::Bool, type_);
  return bool_;
}
double Value::as_number() const {
  if (type_ != Type::Number) wrong_type(Type::Number, type_);
  return number_;
}
const std::string& Value::as_string() const {
  if (type_ != Type::String) wrong_type(Type::String, type_);
  return *string_;
}
const Array& Value::as_array() const {
  if (type_ != Type::Array) wrong_type(Type::Array, type_);
  return *array_;
}
const Object& Value::as_object() const {
  if (type_ != Type::Object) wrong_type(Type::Object, type_);
  return *object_;
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const Member& m : *object_)
    if (m.key == key) return &m.value;
  return nullptr;
}

// ---- Parser ------------------------------------------------------------------

ParseError::ParseError(const std::string& what, std::size_t offset_, int line_, int column_)
    : EngineError(what), offset(offset_), line(line_), column(column_) {}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  Value document() {
    // A UTF-8 byte order mark is tolerated: editors add it, and it carries no data.
    if (end_ - p_ >= 3 && std::string_view(p_, 3) == "\xEF\xBB\xBF") p_ += 3;
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (p_ != end_) error(p_, "unexpected data after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void error(const char* at, const std::string& what) const {
    int line = 1;
    const char* line_start = begin_;
    for (const char* q = begin_; q < at; ++q)
      if (*q == '\n') {
        ++line;
        line_start = q + 1;
      }
    const int column = int(at - line_start) + 1;
    const std::size_t offset = std::size_t(at - begin_);
    throw ParseError("invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(column) + " (byte " +
                         std::to_string(offset) + "): " + what,
                     offset, line, column);
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  Value value(int depth) {
    if (p_ == end_) error(p_, "unexpected end of input, expected a value");
    switch (*p_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return Value::string(string());
      case 't': literal("true"); return Value::boolean(true);
      case 'f': literal("false"); return Value::boolean(false);
      case 'n': literal("null"); return Value();
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return Value::number(number());
        error(p_, "unexpected character, expected a value");
    }
  }

  void literal(std::string_view word) {
    if (std::size_t(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      error(p_, "invalid literal, expected " + std::string(word));
    p_ += word.size();
  }

  void enter(int depth) const {
    if (depth > kMaxDepth) error(p_, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
  }

  Value array(int depth) {
    enter(depth);
    ++p_;  // '['
    Array items;
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return Value::array(std::move(items));
    }
    for (;;) {
      skip_ws();
      items.push_back(value(depth));
      skip_ws();
      if (p_ == end_) error(p_, "unexpected end of input in an array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return Value::array(std::move(items));
      }
      error(p_, "expected ',' or ']' in an array");
    }
  }

  Value object(int depth) {
    enter(depth);
    ++p_;  // '{'
    Object members;
    std::vector<std::size_t> key_offsets;
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return Value::object(std::move(members));
    }
    for (;;) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') error(p_, "expected a string key in an object");
      key_offsets.push_back(std::size_t(p_ - begin_));
      std::string key = string();
      skip_ws();
      if (p_ == end_ || *p_ != ':') error(p_, "expected ':' after an object key");
      ++p_;
      skip_ws();
      Value v = value(depth);
      members.push_back(Member{std::move(key), std::move(v)});
      skip_ws();
      if (p_ == end_) error(p_, "unexpected end of input in an object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        break;
      }
      error(p_, "expected ',' or '}' in an object");
    }
    reject_duplicate_keys(members, key_offsets);
    return Value::object(std::move(members));
  }

  // Sorting keeps this O(n log n) on objects with many keys.
  void reject_duplicate_keys(const Object& members, const std::vector<std::size_t>& offsets) const {
    if (members.size() < 2) return;
    std::vector<std::size_t> order(members.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const int c = members[a].key.compare(members[b].key);
      return c != 0 ? c < 0 : a < b;
    });
    for (std::size_t i = 1; i < order.size(); ++i)
      if (members[order[i]].key == members[order[i - 1]].key)
        error(begin_ + offsets[order[i]], "duplicate key \"" + members[order[i]].key + "\"");
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  unsigned hex4() {
    if (end_ - p_ < 4) error(p_, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(p_[i]);
      if (d < 0) error(p_ + i, "invalid hex digit in a \\u escape");
      v = v * 16 + unsigned(d);
    }
    p_ += 4;
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  // Length of the well-formed UTF-8 sequence at p (first byte >= 0x80), or 0.
  std::size_t utf8_length(const unsigned char* p) const {
    const auto avail = std::size_t(reinterpret_cast<const unsigned char*>(end_) - p);
    const unsigned char b = p[0];
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF)
      n = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
      n = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;  // no encoded surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else
      return 0;
    if (avail < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (std::size_t i = 2; i < n; ++i)
      if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
  }

  std::string string() {
    ++p_;  // opening quote
    std::string out;
    for (;;) {
      const char* run = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20 &&
             static_cast<unsigned char>(*p_) < 0x80)
        ++p_;
      out.append(run, std::size_t(p_ - run));
      if (p_ == end_) error(p_, "unterminated string");
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return out;
      }
      if (c < 0x20) error(p_, "control character in a string (escape it)");
      if (c >= 0x80) {
        const std::size_t n = utf8_length(reinterpret_cast<const unsigned char*>(p_));
        if (n == 0) error(p_, "invalid UTF-8 in a string");
        out.append(p_, n);
        p_ += n;
        continue;
      }
      // Backslash escape.
      const char* escape = p_;
      ++p_;
      if (p_ == end_) error(p_, "unterminated escape");
      switch (*p_++) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) error(escape, "lone low surrogate in a \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') error(escape, "high surrogate without a low surrogate");
            p_ += 2;
            const unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) error(escape, "high surrogate without a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: error(escape, "invalid escape in a string");
      }
    }
  }

  double number() {
    const char* start = p_;
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || *p_ < '0' || *p_ > '9') error(p_, "expected a digit");
    // Decimal magnitude of the first significant digit, to tell overflow from
    // underflow when the value is out of a double's range.
    long magnitude = 0;
    bool significant = false;
    if (*p_ == '0') {
      ++p_;
    } else {
      significant = true;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
        ++magnitude;
        ++p_;
      }
      magnitude -= 1;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || *p_ < '0' || *p_ > '9') error(p_, "expected a digit after '.'");
      long position = -1;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
        if (!significant && *p_ != '0') {
          significant = true;
          magnitude = position;
        }
        --position;
        ++p_;
      }
    }
    long exponent = 0;
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      bool exp_negative = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) exp_negative = *p_++ == '-';
      if (p_ == end_ || *p_ < '0' || *p_ > '9') error(p_, "expected a digit in the exponent");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
        if (exponent < 100000000) exponent = exponent * 10 + (*p_ - '0');
        ++p_;
      }
      if (exp_negative) exponent = -exponent;
    }
    double v = 0;
    const auto [ptr, ec] = std::from_chars(start, p_, v);
    // A literal with a non-zero digit that reads as 0 is refused as one that reads as
    // infinity is: a phasic graph's rate of 1e-400 became a rate of 0 (a state never
    // left) with nothing said (decision 96, as decision 86 for typed numbers).
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && significant && v == 0)) {
      if (!significant) return negative ? -0.0 : 0.0;
      if (magnitude + exponent > 0) error(start, "number too large for a double");
      error(start, "number too small for a double (the least is 4.9e-324): it would read as 0; write 0 if 0 is meant");
    }
    if (ec != std::errc() || ptr != p_ || !std::isfinite(v)) error(start, "invalid number");
    return v;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
};

}  // namespace

Value parse(std::string_view text) { return Parser(text).document(); }

// ---- Field -------------------------------------------------------------------

std::string element_path(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

void Field::fail(const std::string& what) const {
  const std::string where = path_.empty() ? std::string("the document") : path_;
  throw EngineError(where + ": " + what, -1, {}, path_);
}

void Field::expect(Type t) const {
  if (value_->type() != t) fail(std::string("expected ") + type_name(t) + ", found " + type_name(value_->type()));
}

Field Field::get(std::string_view key) const {
  expect(Type::Object);
  const Value* v = value_->find(key);
  const std::string path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!v) throw EngineError(path + ": missing field", -1, {}, path);
  return Field(*v, path);
}

Field Field::at(std::size_t index) const {
  expect(Type::Array);
  const Array& a = value_->as_array();
  if (index >= a.size()) fail("has no element " + std::to_string(index));
  return Field(a[index], element_path(path_, index));
}

std::size_t Field::size() const {
  expect(Type::Array);
  return value_->as_array().size();
}

bool Field::boolean() const {
  expect(Type::Bool);
  return value_->as_bool();
}

double Field::number() const {
  expect(Type::Number);
  return value_->as_number();
}

double Field::finite() const {
  const double v = number();
  if (!std::isfinite(v)) fail("must be finite");
  return v;
}

std::int64_t Field::integer(std::int64_t lo, std::int64_t hi) const {
  const double v = number();
  // Beyond 2^53 doubles are not all integers apart; clamping also keeps the
  // conversion below defined.
  constexpr std::int64_t kExact = std::int64_t(1) << 53;
  lo = std::max(lo, -kExact);
  hi = std::min(hi, kExact);
  if (!(v >= double(lo) && v <= double(hi)) || v != std::floor(v))
    fail("must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", found " + [&] {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      return std::string(buf);
    }());
  return std::int64_t(v);
}

const std::string& Field::string() const {
  expect(Type::String);
  return value_->as_string();
}

}  // namespace phasic::json
