// What every fuzz target shares: the failures a reader is allowed to report. Each
// reader's contract is to throw one of these on bad input; anything else (a crash,
// a sanitizer report, another exception such as std::bad_alloc or std::length_error
// from an allocation sized by the input) escapes and is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/error.hpp"
#include "json/json.hpp"
#include "memory/accounting.hpp"

namespace phasic::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `read`, accepting the documented failures (json::ParseError is an EngineError).
template <class Read>
void expect_clean_failure(Read&& read) {
  try {
    read();
  } catch (const EngineError&) {
  } catch (const BudgetExceeded&) {
  }
}

// A budget well above what a small model needs and far below what would exhaust
// the fuzzer's memory limit: an input that asks for more gets BudgetExceeded.
inline void set_budget() {
  static const bool once = [] {
    ledger().set_budget(std::size_t(256) << 20);
    return true;
  }();
  (void)once;
}

}  // namespace phasic::fuzz
