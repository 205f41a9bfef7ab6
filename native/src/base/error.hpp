// Errors the engine reports to its callers, at the base of the include line (every
// folder may throw them). Every failure of a run is one of these (or BudgetExceeded,
// memory/accounting.hpp): a run never ends in a crash or a partial result.
//
// Invariant: an error's kind says whose fault it is, and the binding reports exactly
// that kind (native/binding/failure.cpp): an EngineError thrown as such is the model's.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace phasic {

enum class ErrorKind {
  Model,     // the model file or what exploring it found
  Limit,     // the configured state limit
  Cache,     // a trace the caller names is no longer cached
  Argument,  // a caller's argument: parameter values, moments, minSccSize
  Internal,  // the engine broke one of its own invariants
};

inline const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Model: return "model";
    case ErrorKind::Limit: return "limit";
    case ErrorKind::Cache: return "cache";
    case ErrorKind::Argument: return "argument";
    case ErrorKind::Internal: return "internal";
  }
  return "internal";
}

// A failure that points into the model: `site` indexes the compiled model's `sites`
// (-1 for none), `rule` names the rule involved (empty for none), `field` names the
// offending field of an input file (for example "rules[2].updates[0].cell").
struct EngineError : std::runtime_error {
  explicit EngineError(const std::string& message, int site_ = -1, std::string rule_ = {}, std::string field_ = {})
      : std::runtime_error(message), site(site_), rule(std::move(rule_)), field(std::move(field_)) {}
  int site;
  std::string rule;
  std::string field;
  ErrorKind kind = ErrorKind::Model;

 protected:
  EngineError(ErrorKind kind_, const std::string& message) : std::runtime_error(message), site(-1), kind(kind_) {}
};

// A state from which no path leads to an absorbing state, found while recording a
// trace. Recording knows vertex ids only: the run, which still has the graph, turns
// this into a message that shows the state (graph/explore.hpp, describe_vertex).
struct NeverAbsorbed : EngineError {
  explicit NeverAbsorbed(std::uint32_t vertex_)
      : EngineError("vertex " + std::to_string(vertex_) + " can never reach an absorbing state"), vertex(vertex_) {}
  std::uint32_t vertex;
};

// The model has more states than the configured limit (explored or imported).
struct StateLimitExceeded : EngineError {
  explicit StateLimitExceeded(const std::string& message) : EngineError(ErrorKind::Limit, message) {}
};

// A trace key that names no cached trace (evicted, cleared, or never made).
struct TraceNotCached : EngineError {
  explicit TraceNotCached(const std::string& message) : EngineError(ErrorKind::Cache, message) {}
};

// A caller's argument the engine refuses, such as a parameter value.
struct InvalidArgument : EngineError {
  explicit InvalidArgument(const std::string& message) : EngineError(ErrorKind::Argument, message) {}
};

// The engine found one of its own invariants broken: a bug, not the model's fault.
struct InternalError : EngineError {
  explicit InternalError(const std::string& message) : EngineError(ErrorKind::Internal, message) {}
};

// Thrown from inner loops when the caller asked the run to stop.
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("the run was cancelled") {}
};

}  // namespace phasic
