#include "engine/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace phasic {

void JsonWriter::separate() {
  if (!first_) out_ += ',';
  first_ = false;
}

JsonWriter& JsonWriter::begin_object() {
  separate();
  out_ += '{';
  first_ = true;
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  out_ += '}';
  first_ = false;
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  separate();
  out_ += '[';
  first_ = true;
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  out_ += ']';
  first_ = false;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  value(k);
  out_ += ':';
  first_ = true;  // the value that follows takes no comma
  return *this;
}

char* JsonWriter::number(char* at, double v) {
  // JSON has no non-finite numbers; these are the protobuf JSON mapping's strings.
  auto put = [&](std::string_view text) {
    std::memcpy(at, text.data(), text.size());
    return at + text.size();
  };
  if (std::isnan(v)) return put("\"NaN\"");
  if (std::isinf(v)) return put(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  // The text of printf's "%.17g" (to_chars with a precision is specified as printf in
  // the C locale), without printf's format parsing and multi-precision digits: a
  // reused run writes a decomposition of thousands of numbers (decision 46).
  return std::to_chars(at, at + kNumberChars, v, std::chars_format::general, 17).ptr;
}

JsonWriter& JsonWriter::value(double v) {
  separate();
  char buf[kNumberChars];
  out_.append(buf, number(buf, v));
  return *this;
}

JsonWriter& JsonWriter::value(std::int64_t v) {
  separate();
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  return *this;
}
JsonWriter& JsonWriter::value(std::uint64_t v) {
  separate();
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  return *this;
}
JsonWriter& JsonWriter::value(bool v) {
  separate();
  out_ += v ? "true" : "false";
  return *this;
}
JsonWriter& JsonWriter::null() {
  separate();
  out_ += "null";
  return *this;
}
JsonWriter& JsonWriter::raw(std::string_view json) {
  separate();
  out_ += json;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  separate();
  out_ += '"';
  // Most strings (member names, keys) need no escape: appended whole.
  bool plain = true;
  for (const char ch : s) plain &= static_cast<unsigned char>(ch) >= 0x20 && ch != '"' && ch != '\\';
  if (plain) {
    out_.append(s);
    out_ += '"';
    return *this;
  }
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out_ += buf;
        } else {
          out_ += ch;
        }
    }
  }
  out_ += '"';
  return *this;
}

}  // namespace phasic
