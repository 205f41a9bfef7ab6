// The Node binding of the engine (node-addon-api): reads each exported function's
// arguments, keeps the registry that lets cancel(runId) reach a run, and hands the
// work to the engine thread (engine_thread.hpp), in the order the calls were made. A
// failure rejects with an Error carrying `kind` (failure.hpp), `site`, `rule` and
// `field`.
#include <napi.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "engine/engine.hpp"
#include "engine_thread.hpp"
#include "failure.hpp"

// The package's version (package.json), given by binding.gyp.
#ifndef PHASIC_VERSION
#error "PHASIC_VERSION must be defined by the build (native/binding.gyp)"
#endif

namespace {

using phasic::engine;
using namespace phasic::binding;

// ---- cancellation -------------------------------------------------------------

std::mutex cancel_mutex;
std::map<double, std::shared_ptr<std::atomic<bool>>> cancel_flags;

std::shared_ptr<std::atomic<bool>> register_run(double id) {
  auto flag = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(cancel_mutex);
  cancel_flags[id] = flag;
  return flag;
}
void unregister_run(double id, const std::shared_ptr<std::atomic<bool>>& flag) {
  std::lock_guard lock(cancel_mutex);
  auto it = cancel_flags.find(id);
  if (it != cancel_flags.end() && it->second == flag) cancel_flags.erase(it);
}

// Starts a call that cancel(runId) can stop: registers the id, gives the work its flag,
// and unregisters it when the call settles, or at once if it is never started (start
// threw). A later call with the same id replaces the registration; the earlier one's
// settling then leaves the new flag alone.
Napi::Promise start_cancellable(Napi::Env env, double run_id, std::unique_ptr<Call> call,
                                std::function<std::string(Outbox&, const std::atomic<bool>* cancel)> work) {
  std::shared_ptr<std::atomic<bool>> cancel = register_run(run_id);
  call->on_settle = [run_id, cancel] { unregister_run(run_id, cancel); };
  struct Unregister {
    double id;
    std::shared_ptr<std::atomic<bool>> flag;
    bool armed = true;
    ~Unregister() {
      if (armed) unregister_run(id, flag);
    }
  } unregister{run_id, cancel};
  Napi::Promise promise = start(
      env, std::move(call), [work = std::move(work), cancel](Outbox& outbox) { return work(outbox, cancel.get()); });
  unregister.armed = false;
  return promise;
}

// ---- argument reading ---------------------------------------------------------

double number_or(const Napi::Object& o, const char* key, double fallback) {
  if (!o.Has(key)) return fallback;
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::uint64_t count_or(const Napi::Object& o, const char* key, std::uint64_t fallback) {
  const double v = number_or(o, key, static_cast<double>(fallback));
  if (!(v >= 0) || v > 9.0e15 || v != static_cast<double>(static_cast<std::uint64_t>(v)))
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be a non-negative integer");
  return static_cast<std::uint64_t>(v);
}

phasic::NamedValues named_values(const Napi::Value& v, const char* what) {
  phasic::NamedValues out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsObject()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an object of numbers");
  const Napi::Object o = v.As<Napi::Object>();
  const Napi::Array names = o.GetPropertyNames();
  for (std::uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    const Napi::Value value = o.Get(name);
    if (!value.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + "." + name + " must be a number");
    out.emplace_back(name, value.As<Napi::Number>().DoubleValue());
  }
  return out;
}

std::vector<phasic::RewardNames> reward_pairs(const Napi::Value& v) {
  std::vector<phasic::RewardNames> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "covariances must be an array of [reward, reward]");
  const Napi::Array a = v.As<Napi::Array>();
  for (std::uint32_t i = 0; i < a.Length(); ++i) {
    const Napi::Value p = a.Get(i);
    if (!p.IsArray() || p.As<Napi::Array>().Length() != 2 || !p.As<Napi::Array>().Get(0u).IsString() ||
        !p.As<Napi::Array>().Get(1u).IsString())
      throw Napi::TypeError::New(v.Env(), "covariances[" + std::to_string(i) + "] must be [reward, reward]");
    out.emplace_back(p.As<Napi::Array>().Get(0u).As<Napi::String>().Utf8Value(),
                     p.As<Napi::Array>().Get(1u).As<Napi::String>().Utf8Value());
  }
  return out;
}

// An optional boolean: absent (undefined) is false.
bool flag_of(const Napi::Value& v, const char* name) {
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::uint32_t moments_of(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return 2;
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), "moments must be a number");
  const double k = v.As<Napi::Number>().DoubleValue();
  if (!(k >= 1 && k <= 16) || k != static_cast<double>(static_cast<int>(k)))
    throw Napi::RangeError::New(v.Env(), "moments must be an integer from 1 to 16");
  return static_cast<std::uint32_t>(k);
}

// ---- exported functions ----------------------------------------------------------

Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), PHASIC_VERSION); }

Napi::Value Configure(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject())
    throw Napi::TypeError::New(info.Env(), "configure(config) needs an object");
  const Napi::Object o = info[0].As<Napi::Object>();
  phasic::EngineConfig c = engine().config();
  if (o.Has("cacheDir")) {
    const Napi::Value dir = o.Get("cacheDir");
    if (!dir.IsString()) throw Napi::TypeError::New(info.Env(), "cacheDir must be a string");
    c.cache_dir = dir.As<Napi::String>().Utf8Value();
  }
  c.max_disk_bytes = count_or(o, "maxDiskBytes", c.max_disk_bytes);
  c.memory_cache_bytes = count_or(o, "memoryCacheBytes", c.memory_cache_bytes);
  c.memory_budget_bytes = count_or(o, "memoryBudgetBytes", c.memory_budget_bytes);
  engine().configure(c);
  report_external_memory(info.Env());
  return info.Env().Undefined();
}

Napi::Value Memory(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), engine().memory_snapshot()); }

// run(runId, modelText, options, onProgress?, onBlockEvent?) → Promise<string>
Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsObject())
    throw Napi::TypeError::New(env, "run(runId, modelText, options, onProgress?, onBlockEvent?)");
  const Napi::Object o = info[2].As<Napi::Object>();
  phasic::RunOptions options;
  options.max_states = count_or(o, "maxStates", options.max_states);
  const std::uint64_t min_scc_size = count_or(o, "minSccSize", options.min_scc_size);
  if (min_scc_size > 0xffff'ffffu) throw Napi::RangeError::New(env, "minSccSize must be at most 4294967295");
  options.min_scc_size = static_cast<std::uint32_t>(min_scc_size);
  options.moments = moments_of(o.Get("moments"));
  options.covariances = reward_pairs(o.Get("covariances"));
  options.params = named_values(o.Get("params"), "params");
  options.gradient = flag_of(o.Get("gradient"), "gradient");
  if (!o.Get("decomposition").IsUndefined()) options.decomposition = flag_of(o.Get("decomposition"), "decomposition");
  auto function_at = [&](size_t i) {
    return info.Length() > i && info[i].IsFunction() ? info[i].As<Napi::Function>() : Napi::Function();
  };
  auto call = std::make_unique<Call>(env);
  if (Napi::Function f = function_at(3); !f.IsEmpty()) call->on_progress = Napi::Persistent(f);
  if (Napi::Function f = function_at(4); !f.IsEmpty()) call->on_block = Napi::Persistent(f);
  return start_cancellable(
      env, info[0].As<Napi::Number>().DoubleValue(), std::move(call),
      [model = info[1].As<Napi::String>().Utf8Value(), options = std::move(options)](Outbox& outbox,
                                                                                     const std::atomic<bool>* cancel) {
        phasic::RunObserver observer;
        observer.cancel = cancel;
        // Progress is sampled (every 50 ms, and at each phase's start and end)
        // so a fast exploration does not flood the JS thread; block events
        // are all delivered.
        double last_sent = -1e9;
        phasic::RunPhase last_phase = phasic::RunPhase::Evaluating;
        bool any = false;
        observer.progress = [&](const phasic::RunProgress& p) {
          const double now = phasic::process_ms();
          if (any && p.phase == last_phase && p.done != p.total && p.done != 0 && now - last_sent < 50) return;
          any = true;
          last_sent = now;
          last_phase = p.phase;
          RunEvent e;
          e.progress = p;
          outbox.send(e);
        };
        observer.block = [&](const phasic::BlockEvent& b) {
          RunEvent e;
          e.is_block = true;
          e.block = b;
          outbox.send(e);
        };
        return engine().run(model, options, observer);
      });
}

Napi::Value Cancel(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "cancel(runId)");
  std::lock_guard lock(cancel_mutex);
  auto it = cancel_flags.find(info[0].As<Napi::Number>().DoubleValue());
  if (it == cancel_flags.end()) return Napi::Boolean::New(info.Env(), false);
  it->second->store(true);
  return Napi::Boolean::New(info.Env(), true);
}

// evaluate(traceKey, params: Array<Record<string, number>>, moments, covariances, gradient?) → Promise<string>
Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray())
    throw Napi::TypeError::New(env, "evaluate(traceKey, params[], moments, covariances)");
  std::vector<phasic::NamedValues> sets;
  const Napi::Array a = info[1].As<Napi::Array>();
  for (std::uint32_t i = 0; i < a.Length(); ++i) sets.push_back(named_values(a.Get(i), "params"));
  const std::uint32_t moments = moments_of(info.Length() > 2 ? info[2] : env.Undefined());
  auto pairs = reward_pairs(info.Length() > 3 ? info[3] : env.Undefined());
  const bool gradient = flag_of(info.Length() > 4 ? info[4] : env.Undefined(), "gradient");
  return start_job(
      env, [key = info[0].As<Napi::String>().Utf8Value(), sets = std::move(sets), moments, pairs = std::move(pairs),
            gradient] { return engine().evaluate(key, sets, moments, pairs, nullptr, gradient); });
}

// sccDetail(traceKey, scc, params: Record<string, number>, maxStates) → Promise<string>
Napi::Value SccDetail(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[3].IsNumber())
    throw Napi::TypeError::New(env, "sccDetail(traceKey, scc, params, maxStates)");
  const double scc = info[1].As<Napi::Number>().DoubleValue();
  if (!(scc >= 0 && scc < 4294967296.0) || scc != static_cast<double>(static_cast<std::uint32_t>(scc)))
    throw Napi::RangeError::New(env, "scc must be a non-negative integer");
  const double max_states = info[3].As<Napi::Number>().DoubleValue();
  if (!(max_states >= 1 && max_states <= 9.0e15) ||
      max_states != static_cast<double>(static_cast<std::uint64_t>(max_states)))
    throw Napi::RangeError::New(env, "maxStates must be a positive integer");
  return start_job(env,
                   [key = info[0].As<Napi::String>().Utf8Value(), scc = static_cast<std::uint32_t>(scc),
                    params = named_values(info[2], "params"), max_states = static_cast<std::uint64_t>(max_states)] {
                     return engine().scc_detail(key, scc, params, max_states);
                   });
}

std::vector<double> numbers(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of numbers");
  const Napi::Array a = v.As<Napi::Array>();
  std::vector<double> out;
  out.reserve(a.Length());
  for (std::uint32_t i = 0; i < a.Length(); ++i) {
    const Napi::Value x = a.Get(i);
    if (!x.IsNumber())
      throw Napi::TypeError::New(v.Env(), std::string(what) + "[" + std::to_string(i) + "] must be a number");
    out.push_back(x.As<Napi::Number>().DoubleValue());
  }
  return out;
}

// distribution(runId, traceKey, request, onProgress?) → Promise<string>; cancel(runId)
// stops it like a run.
Napi::Value Distribution(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsObject())
    throw Napi::TypeError::New(env, "distribution(runId, traceKey, request, onProgress?)");
  const Napi::Object o = info[2].As<Napi::Object>();
  phasic::DistributionRequest request;
  if (o.Has("reward") && !o.Get("reward").IsUndefined()) {
    if (!o.Get("reward").IsString()) throw Napi::TypeError::New(env, "reward must be a string");
    request.reward = o.Get("reward").As<Napi::String>().Utf8Value();
  }
  request.params = named_values(o.Get("params"), "params");
  if (const Napi::Value t = o.Get("times"); !t.IsUndefined() && !t.IsNull()) request.times = numbers(t, "times");
  if (const Napi::Value q = o.Get("quantiles"); !q.IsUndefined() && !q.IsNull())
    request.quantiles = numbers(q, "quantiles");
  request.grid_points = number_or(o, "gridPoints", request.grid_points);
  request.epsilon = number_or(o, "epsilon", request.epsilon);
  auto call = std::make_unique<Call>(env);
  if (info.Length() > 3 && info[3].IsFunction()) call->on_progress = Napi::Persistent(info[3].As<Napi::Function>());
  return start_cancellable(env, info[0].As<Napi::Number>().DoubleValue(), std::move(call),
                           [key = info[1].As<Napi::String>().Utf8Value(), request = std::move(request)](
                               Outbox& outbox, const std::atomic<bool>* cancel) {
                             phasic::RunObserver observer;
                             observer.cancel = cancel;
                             // Sampled every 50 ms (and at the start and end) like a run's.
                             double last_sent = -1e9;
                             observer.progress = [&](const phasic::RunProgress& p) {
                               const double now = phasic::process_ms();
                               if (p.done != 0 && p.done != p.total && now - last_sent < 50) return;
                               last_sent = now;
                               RunEvent e;
                               e.progress = p;
                               outbox.send(e);
                             };
                             return engine().distribution(key, request, observer);
                           });
}

Napi::Value ClearCaches(const Napi::CallbackInfo& info) {
  return start_job(info.Env(), [] { return engine().clear_caches(); });
}

// exportPhasicJson(modelText, maxStates) → Promise<string>
Napi::Value ExportPhasicJson(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(info.Env(), "exportPhasicJson(modelText, maxStates?)");
  std::uint64_t max_states = 2'000'000;
  if (info.Length() > 1 && info[1].IsNumber())
    max_states = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  return start_job(info.Env(), [text = info[0].As<Napi::String>().Utf8Value(), max_states] {
    return engine().export_phasic_json(text, max_states);
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("configure", Napi::Function::New(env, Configure));
  exports.Set("memory", Napi::Function::New(env, Memory));
  exports.Set("run", Napi::Function::New(env, Run));
  exports.Set("cancel", Napi::Function::New(env, Cancel));
  exports.Set("evaluate", Napi::Function::New(env, Evaluate));
  exports.Set("sccDetail", Napi::Function::New(env, SccDetail));
  exports.Set("distribution", Napi::Function::New(env, Distribution));
  exports.Set("clearCaches", Napi::Function::New(env, ClearCaches));
  exports.Set("exportPhasicJson", Napi::Function::New(env, ExportPhasicJson));
  return exports;
}

}  // namespace

NODE_API_MODULE(phasic_engine, Init)
