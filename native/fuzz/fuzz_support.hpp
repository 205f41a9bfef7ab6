// What every fuzz target shares: the failures a reader is allowed to report. Each
// reader's contract is to throw one of these on bad input; anything else (a crash,
// a sanitizer report, another exception such as std::bad_alloc or std::length_error
// from an allocation sized by the input) escapes and is a finding.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <thread>

#include "base/error.hpp"
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
  } catch (const Cancelled&) {
  }
}

// The cancellation flag of one input, raised by a watchdog once the input has run for
// kDeadline. A compiled model can legitimately ask for enormous finite work (loop
// ranges times aggregate lengths times states); the engine's answer to that is
// cancellation, which is what this exercises: an input that keeps running after the
// flag is raised is caught by libFuzzer's -timeout as a finding.
class Deadline {
 public:
  static constexpr auto kDeadline = std::chrono::seconds(2);

  static const std::atomic<bool>* start() {
    static Deadline watchdog;
    watchdog.cancel_.store(false);
    watchdog.until_.store((std::chrono::steady_clock::now() + kDeadline).time_since_epoch().count());
    return &watchdog.cancel_;
  }

 private:
  Deadline() {
    std::thread([this] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (std::chrono::steady_clock::now().time_since_epoch().count() > until_.load()) cancel_.store(true);
      }
    }).detach();
  }
  std::atomic<bool> cancel_{false};
  std::atomic<std::int64_t> until_{INT64_MAX};
};

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
