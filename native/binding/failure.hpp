// How an engine failure reaches JavaScript: an Error whose `kind` says which of the
// engine's error types it was (base/error.hpp), so callers can tell a fault of the
// model from a limit, a budget, a cancellation, a stale cache or a fault of the engine.
#pragma once

#include <napi.h>

#include <exception>
#include <string>

namespace phasic::binding {

struct Failure {
  std::string kind, message, rule, field;
  int site = -1;
};

// The failure an exception stands for; every exception maps to one.
Failure failure_of(std::exception_ptr error);

// The Error a promise rejects with: message, kind, site, rule, field.
Napi::Error to_error(Napi::Env env, const Failure& failure);

}  // namespace phasic::binding
