// The Node binding of the engine (node-addon-api). Runs, evaluations and clears
// execute on worker threads, never on the JS thread; their progress and block events
// reach the JS callbacks in the order the engine emitted them, before the promise
// settles. A failure rejects with an Error carrying `kind` ('model' | 'cancelled' |
// 'budget' | 'engine'), `site`, `rule` and `field`.
#include <napi.h>

#include <map>
#include <memory>
#include <mutex>

#include "engine/engine.hpp"
#include "engine/error.hpp"

namespace {

using phasic::engine;

// ---- failures ---------------------------------------------------------------

struct Failure {
  std::string kind, message, rule, field;
  int site = -1;
};

template <class F>
bool capture(F&& body, Failure& failure) {
  try {
    body();
    return true;
  } catch (const phasic::Cancelled& e) {
    failure = {"cancelled", e.what(), {}, {}};
  } catch (const phasic::BudgetExceeded& e) {
    failure = {"budget", e.what(), {}, {}};
  } catch (const phasic::EngineError& e) {
    failure = {"model", e.what(), e.rule, e.field, e.site};
  } catch (const std::bad_alloc&) {
    failure = {"engine", "the engine ran out of memory", {}, {}};
  } catch (const std::exception& e) {
    failure = {"engine", e.what(), {}, {}};
  }
  return false;
}

Napi::Error to_error(Napi::Env env, const Failure& f) {
  Napi::Error error = Napi::Error::New(env, f.message);
  error.Set("kind", Napi::String::New(env, f.kind));
  error.Set("site", Napi::Number::New(env, f.site));
  error.Set("rule", Napi::String::New(env, f.rule));
  error.Set("field", Napi::String::New(env, f.field));
  return error;
}

// ---- native memory reported to V8 --------------------------------------------

// V8 schedules garbage collection by heap pressure; the engine's caches are part of
// this process's memory, so it is told how much they hold.
void report_external_memory(Napi::Env env) {
  static std::int64_t reported = 0;
  const auto now = static_cast<std::int64_t>(phasic::ledger().total());
  if (now != reported) Napi::MemoryManagement::AdjustExternalMemory(env, now - reported);
  reported = now;
}

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

std::uint32_t moments_of(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return 2;
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), "moments must be a number");
  const double k = v.As<Napi::Number>().DoubleValue();
  if (!(k >= 1 && k <= 16) || k != static_cast<double>(static_cast<int>(k)))
    throw Napi::RangeError::New(v.Env(), "moments must be an integer from 1 to 16");
  return static_cast<std::uint32_t>(k);
}

// ---- workers ------------------------------------------------------------------

// A promise settled with the JSON text a job returns.
class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, std::function<std::string()> job)
      : Napi::AsyncWorker(env, "phasic.job"), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    if (!capture([&] { result_ = job_(); }, failure_)) SetError(failure_.message);
  }
  void OnOK() override {
    report_external_memory(Env());
    deferred_.Resolve(Napi::String::New(Env(), result_));
  }
  void OnError(const Napi::Error&) override {
    report_external_memory(Env());
    deferred_.Reject(to_error(Env(), failure_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<std::string()> job_;
  std::string result_;
  Failure failure_;
};

struct RunEvent {
  bool is_block = false;
  phasic::RunProgress progress{};
  phasic::BlockEvent block{};
};

class RunWorker : public Napi::AsyncProgressQueueWorker<RunEvent> {
 public:
  RunWorker(Napi::Env env, double id, std::string model, phasic::RunOptions options, Napi::Function on_progress,
            Napi::Function on_block)
      : Napi::AsyncProgressQueueWorker<RunEvent>(env, "phasic.run"),
        deferred_(Napi::Promise::Deferred::New(env)),
        id_(id),
        cancel_(register_run(id)),
        model_(std::move(model)),
        options_(std::move(options)) {
    if (!on_progress.IsEmpty()) on_progress_ = Napi::Persistent(on_progress);
    if (!on_block.IsEmpty()) on_block_ = Napi::Persistent(on_block);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    phasic::RunObserver observer;
    observer.cancel = cancel_.get();
    // Progress is sampled (every 50 ms, and at each phase's start and end) so a fast
    // exploration does not flood the JS thread; block events are all delivered.
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
      progress.Send(&e, 1);
    };
    observer.block = [&](const phasic::BlockEvent& b) {
      RunEvent e;
      e.is_block = true;
      e.block = b;
      progress.Send(&e, 1);
    };
    if (!capture([&] { result_ = engine().run(model_, options_, observer); }, failure_)) SetError(failure_.message);
    model_.clear();
    model_.shrink_to_fit();
  }

  void OnProgress(const RunEvent* events, size_t count) override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (size_t i = 0; i < count; ++i) {
      const RunEvent& e = events[i];
      if (e.is_block) {
        if (on_block_.IsEmpty()) continue;
        Napi::Object o = Napi::Object::New(env);
        o.Set("kind", e.block.created ? "created" : "freed");
        o.Set("scc", e.block.scc);
        o.Set("vertices", e.block.vertices);
        o.Set("bytes", static_cast<double>(e.block.bytes));
        o.Set("time_ms", e.block.time_ms);
        call(on_block_, o);
      } else {
        if (on_progress_.IsEmpty()) continue;
        Napi::Object o = Napi::Object::New(env);
        o.Set("phase", phasic::phase_name(e.progress.phase));
        o.Set("done", static_cast<double>(e.progress.done));
        o.Set("total", static_cast<double>(e.progress.total));
        call(on_progress_, o);
      }
    }
  }

  void OnOK() override {
    unregister_run(id_, cancel_);
    report_external_memory(Env());
    deferred_.Resolve(Napi::String::New(Env(), result_));
  }
  void OnError(const Napi::Error&) override {
    unregister_run(id_, cancel_);
    report_external_memory(Env());
    deferred_.Reject(to_error(Env(), failure_).Value());
  }

 private:
  // A throwing JS callback must not abort the run: its exception is reported once
  // on the console by Node and the run goes on.
  static void call(Napi::FunctionReference& f, Napi::Object arg) {
    try {
      f.Call({arg});
    } catch (const Napi::Error& e) {
      e.Env().Global().Get("console").As<Napi::Object>().Get("error").As<Napi::Function>().Call({e.Value()});
    }
  }

  Napi::Promise::Deferred deferred_;
  double id_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::string model_;
  phasic::RunOptions options_;
  Napi::FunctionReference on_progress_, on_block_;
  std::string result_;
  Failure failure_;
};

// ---- exported functions ----------------------------------------------------------

Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), "0.1.0"); }

Napi::Value Configure(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "configure(config) needs an object");
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

Napi::Value Memory(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), engine().memory_snapshot());
}

// run(runId, modelText, options, onProgress?, onBlockEvent?) → Promise<string>
Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsObject())
    throw Napi::TypeError::New(env, "run(runId, modelText, options, onProgress?, onBlockEvent?)");
  const Napi::Object o = info[2].As<Napi::Object>();
  phasic::RunOptions options;
  options.max_states = count_or(o, "maxStates", options.max_states);
  options.min_scc_size = static_cast<std::uint32_t>(count_or(o, "minSccSize", options.min_scc_size));
  options.moments = moments_of(o.Get("moments"));
  options.covariances = reward_pairs(o.Get("covariances"));
  options.params = named_values(o.Get("params"), "params");
  auto function_at = [&](size_t i) {
    return info.Length() > i && info[i].IsFunction() ? info[i].As<Napi::Function>() : Napi::Function();
  };
  auto* worker = new RunWorker(env, info[0].As<Napi::Number>().DoubleValue(), info[1].As<Napi::String>().Utf8Value(),
                               std::move(options), function_at(3), function_at(4));
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value Cancel(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "cancel(runId)");
  std::lock_guard lock(cancel_mutex);
  auto it = cancel_flags.find(info[0].As<Napi::Number>().DoubleValue());
  if (it == cancel_flags.end()) return Napi::Boolean::New(info.Env(), false);
  it->second->store(true);
  return Napi::Boolean::New(info.Env(), true);
}

// evaluate(traceKey, params: Array<Record<string, number>>, moments, covariances) → Promise<string>
Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray())
    throw Napi::TypeError::New(env, "evaluate(traceKey, params[], moments, covariances)");
  std::vector<phasic::NamedValues> sets;
  const Napi::Array a = info[1].As<Napi::Array>();
  for (std::uint32_t i = 0; i < a.Length(); ++i) sets.push_back(named_values(a.Get(i), "params"));
  const std::uint32_t moments = moments_of(info.Length() > 2 ? info[2] : env.Undefined());
  auto pairs = reward_pairs(info.Length() > 3 ? info[3] : env.Undefined());
  auto* worker = new JobWorker(env, [key = info[0].As<Napi::String>().Utf8Value(), sets = std::move(sets), moments,
                                     pairs = std::move(pairs)] { return engine().evaluate(key, sets, moments, pairs); });
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value ClearCaches(const Napi::CallbackInfo& info) {
  auto* worker = new JobWorker(info.Env(), [] { return engine().clear_caches(); });
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// exportPhasicJson(modelText, maxStates) → Promise<string>
Napi::Value ExportPhasicJson(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "exportPhasicJson(modelText, maxStates?)");
  std::uint64_t max_states = 2'000'000;
  if (info.Length() > 1 && info[1].IsNumber()) max_states = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  auto* worker = new JobWorker(info.Env(), [text = info[0].As<Napi::String>().Utf8Value(), max_states] {
    return engine().export_phasic_json(text, max_states);
  });
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("configure", Napi::Function::New(env, Configure));
  exports.Set("memory", Napi::Function::New(env, Memory));
  exports.Set("run", Napi::Function::New(env, Run));
  exports.Set("cancel", Napi::Function::New(env, Cancel));
  exports.Set("evaluate", Napi::Function::New(env, Evaluate));
  exports.Set("clearCaches", Napi::Function::New(env, ClearCaches));
  exports.Set("exportPhasicJson", Napi::Function::New(env, ExportPhasicJson));
  return exports;
}

}  // namespace

NODE_API_MODULE(phasic_engine, Init)
