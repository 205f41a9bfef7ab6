// The kinds are those of extension/engine/engine.ts's FailureKind.
#include "failure.hpp"

#include <new>

#include "base/error.hpp"
#include "memory/accounting.hpp"

namespace phasic::binding {

Failure failure_of(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled& e) {
    return {"cancelled", e.what(), {}, {}};
  } catch (const BudgetExceeded& e) {
    return {"budget", e.what(), {}, {}};
  } catch (const EngineError& e) {
    return {error_kind_name(e.kind), e.what(), e.rule, e.field, e.site};
  } catch (const std::bad_alloc&) {
    return {"internal", "the engine ran out of memory", {}, {}};
  } catch (const std::exception& e) {
    return {"internal", e.what(), {}, {}};
  } catch (...) {
    return {"internal", "the engine failed with an unknown exception", {}, {}};
  }
}

Napi::Error to_error(Napi::Env env, const Failure& f) {
  Napi::Error error = Napi::Error::New(env, f.message);
  error.Set("kind", Napi::String::New(env, f.kind));
  error.Set("site", Napi::Number::New(env, f.site));
  error.Set("rule", Napi::String::New(env, f.rule));
  error.Set("field", Napi::String::New(env, f.field));
  return error;
}

}  // namespace phasic::binding
