// A minimal test harness for the engine's C++ tests: each test file is one program
// whose last line is the plain summary "N passed, N failed, N skipped". A case that
// cannot run here calls SKIP(why): it counts as skipped, never as passed.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace check {

struct Case {
  const char* name;
  std::function<void()> body;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
inline int& failures_in_case() {
  static int n = 0;
  return n;
}
// Thrown by SKIP: the case ends without a verdict.
struct Skipped {
  std::string why;
};
struct Register {
  Register(const char* name, std::function<void()> body) { cases().push_back({name, std::move(body)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::printf("  FAIL %s:%d: %s\n", file, line, what.c_str());
  ++failures_in_case();
}

inline bool close(double a, double b, double rel) {
  if (a == b) return true;
  return std::fabs(a - b) <= rel * std::fmax(std::fabs(a), std::fabs(b));
}

inline int run_all() {
  int passed = 0, failed = 0, skipped = 0;
  for (auto& c : cases()) {
    failures_in_case() = 0;
    try {
      c.body();
    } catch (const Skipped& s) {
      if (failures_in_case() == 0) {
        ++skipped;
        std::printf("skip %s: %s\n", c.name, s.why.c_str());
        continue;
      }
    } catch (const std::exception& e) {
      fail(c.name, 0, std::string("unexpected exception: ") + e.what());
    }
    if (failures_in_case() == 0) {
      ++passed;
      std::printf("ok %s\n", c.name);
    } else {
      ++failed;
      std::printf("not ok %s\n", c.name);
    }
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK_CONCAT2(a, b) a##b
#define CHECK_CONCAT(a, b) CHECK_CONCAT2(a, b)
#define TEST(name)                                                                        \
  static void CHECK_CONCAT(test_, name)();                                                \
  static check::Register CHECK_CONCAT(register_, name)(#name, CHECK_CONCAT(test_, name)); \
  static void CHECK_CONCAT(test_, name)()
#define CHECK(cond)                                      \
  do {                                                   \
    if (!(cond)) check::fail(__FILE__, __LINE__, #cond); \
  } while (0)
#define CHECK_EQ(a, b)                                                                                  \
  do {                                                                                                  \
    const auto va_ = (a);                                                                               \
    const auto vb_ = (b);                                                                               \
    if (!(va_ == vb_))                                                                                  \
      check::fail(__FILE__, __LINE__,                                                                   \
                  std::string(#a " == " #b ": ") + std::to_string(va_) + " vs " + std::to_string(vb_)); \
  } while (0)
#define CHECK_CLOSE(a, b, rel)                                               \
  do {                                                                       \
    const double va_ = (a);                                                  \
    const double vb_ = (b);                                                  \
    if (!check::close(va_, vb_, rel)) {                                      \
      char buf_[160];                                                        \
      std::snprintf(buf_, sizeof buf_, "%.17g vs %.17g", va_, vb_);          \
      check::fail(__FILE__, __LINE__, std::string(#a " ~ " #b ": ") + buf_); \
    }                                                                        \
  } while (0)
#define CHECK_THROWS(expr)                                                         \
  do {                                                                             \
    bool threw_ = false;                                                           \
    try {                                                                          \
      (void)(expr);                                                                \
    } catch (...) {                                                                \
      threw_ = true;                                                               \
    }                                                                              \
    if (!threw_) check::fail(__FILE__, __LINE__, "expected an exception: " #expr); \
  } while (0)

#define SKIP(why) \
  throw check::Skipped { why }

#define TEST_MAIN() \
  int main() { return check::run_all(); }
