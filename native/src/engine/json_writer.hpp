// Writes the engine's results as JSON text for the binding and the CLI.
//
// Invariant: the output is valid RFC 8259 JSON whatever the values: strings are
// escaped, and a non-finite number (which JSON cannot carry) is written as the string
// "Infinity", "-Infinity" or "NaN" (the protobuf JSON mapping's form; docs/protocol.md),
// never as null, so that infinite and undefined never read alike. Finite numbers
// round-trip exactly (17 significant digits).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace phasic {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(double v);
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(std::uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
  JsonWriter& value(bool v);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& null();
  // Pastes text that is already JSON.
  JsonWriter& raw(std::string_view json);

  template <class T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  // Writes at `at` the text value(v) appends (at most kNumberChars) and returns its end:
  // for callers that assemble a long run of members in a buffer of their own.
  static constexpr std::size_t kNumberChars = 32;
  static char* number(char* at, double v);

  // Room for `bytes` more of output, so a long result is not copied as it grows.
  void reserve(std::size_t bytes) { out_.reserve(out_.size() + bytes); }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void separate();
  std::string out_;
  bool first_ = true;  // no comma needed before the next element
};

}  // namespace phasic
