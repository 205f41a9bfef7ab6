// A strict JSON reader (RFC 8259) producing a small DOM, and field accessors that
// name the offending field when a document has the wrong shape.
//
// Invariants:
// - parse() accepts exactly the RFC 8259 grammar over UTF-8 text (no comments, no
//   trailing commas, no NaN/Infinity, no duplicate object keys, no invalid UTF-8,
//   no lone surrogates) and otherwise throws ParseError with the byte offset, line
//   and column of the first offending byte. No byte string causes undefined
//   behaviour: nesting deeper than kMaxDepth is rejected before the parser's
//   recursion (and the DOM's recursive destruction) could grow beyond it.
// - Numbers are doubles; a literal too large for a double is an error, and so is one
//   with a non-zero digit too small for one (it would read as ±0); a subnormal is
//   read as such, and a literal whose digits are all 0 is ±0 whatever its exponent.
// - A Value is 16 bytes (a tag and a payload) so that large graph files stay small
//   in memory; values are move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace phasic::json {

constexpr int kMaxDepth = 512;

enum class Type : std::uint8_t { Null, Bool, Number, String, Array, Object };
const char* type_name(Type t);

class Value;
struct Member;
using Array = std::vector<Value>;
using Object = std::vector<Member>;  // in document order

class Value {
 public:
  Value() noexcept : type_(Type::Null), number_(0) {}
  static Value boolean(bool b);
  static Value number(double d);
  static Value string(std::string s);
  static Value array(Array items);
  static Value object(Object members);

  Value(Value&& other) noexcept;
  Value& operator=(Value&& other) noexcept;
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  ~Value();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  // Preconditions: the value has the matching type (checked; throws EngineError).
  bool as_bool() const;
  double as_number() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;
  // The member named key of an object, or nullptr (also for a non-object).
  const Value* find(std::string_view key) const;

 private:
  void release() noexcept;
  Type type_;
  union {
    bool bool_;
    double number_;
    std::string* string_;
    Array* array_;
    Object* object_;
  };
};

struct Member {
  std::string key;
  Value value;
};

struct ParseError : EngineError {
  ParseError(const std::string& what, std::size_t offset_, int line_, int column_);
  std::size_t offset;  // 0-based byte offset
  int line;            // 1-based
  int column;          // 1-based, in bytes
};

Value parse(std::string_view text);

// A value together with its path in the document ("rules[2].rate[1]"), whose
// accessors throw EngineError naming that path when the value has the wrong shape.
class Field {
 public:
  Field(const Value& v, std::string path) : value_(&v), path_(std::move(path)) {}
  const Value& value() const { return *value_; }
  const std::string& path() const { return path_; }

  bool has(std::string_view key) const { return value_->find(key) != nullptr; }
  Field get(std::string_view key) const;  // required object member
  Field at(std::size_t index) const;      // array element (index < size())
  std::size_t size() const;               // array length

  bool is_null() const { return value_->is_null(); }
  bool boolean() const;
  double number() const;
  double finite() const;  // a number that is not ±inf (JSON has no NaN)
  // An integral number within [lo, hi].
  std::int64_t integer(std::int64_t lo, std::int64_t hi) const;
  const std::string& string() const;
  void expect(Type t) const;

  [[noreturn]] void fail(const std::string& what) const;

 private:
  const Value* value_;
  std::string path_;
};

// The path of element `index` of the array at `path` ("edges" -> "edges[3]").
std::string element_path(const std::string& path, std::size_t index);

}  // namespace phasic::json
