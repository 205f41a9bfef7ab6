// The Node binding of the engine (node-addon-api). Runs, evaluations, clears and
// exports execute on the engine thread (one long-lived thread, never the JS thread or
// libuv's pool), in the order they were called; their progress and block events
// reach the JS callbacks in the order the engine emitted them, before the promise
// settles. A failure rejects with an Error carrying `kind` ('model' | 'cancelled' |
// 'budget' | 'engine'), `site`, `rule` and `field`.
#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

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

// ---- the engine thread ----------------------------------------------------------

// Every run, evaluation, clear and export runs on this one long-lived thread, in the
// order the calls were made. The engine serializes them anyway (Engine::work_mutex_),
// so more threads gain nothing, and they cost resident memory: glibc gives each
// thread that allocates an arena of its own and never shrinks the top of a thread's
// arena in malloc_trim, so on libuv's pool of 4 threads each arena ratcheted up
// towards a run's peak as runs landed on it (+2.4 to 3.0 MB in the arenas from run 10
// to run 200 of the soak, 8-9% of the resident set, docs/reliability.md). One thread reuses one arena. Nor do
// waiting engine calls occupy libuv's threads, which Node needs for file system work.
class EngineThread {
 public:
  static void post(std::function<void()> job) {
    static EngineThread* thread = new EngineThread();  // never destroyed, like engine()
    thread->push(std::move(job));
  }

 private:
  EngineThread() { std::thread([this] { loop(); }).detach(); }

  void push(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

  [[noreturn]] void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
};

// ---- calls ---------------------------------------------------------------------

struct RunEvent {
  bool is_block = false;
  phasic::RunProgress progress{};
  phasic::BlockEvent block{};
};

// How a call ended, made on the engine thread and settled on the JS thread.
struct Outcome {
  bool ok = false;
  std::string result;  // the JSON text the promise resolves with
  Failure failure;
};

// What the engine thread sends the JS thread: a run's event, or a call's outcome
// (last).
struct Delivery {
  RunEvent event;
  std::unique_ptr<Outcome> outcome;
};

// Whether a call's thread-safe function still exists. Node frees it when its
// environment is torn down (a worker thread ends, or the process exits) even while the
// engine thread may still call it; the finalizer marks it gone under the mutex the
// engine thread holds while calling it.
struct Link {
  std::mutex mutex;
  bool gone = false;
};

// A call's JS side, owned by its thread-safe function and only touched on the JS
// thread: deleted by the function's finalizer once the outcome is delivered.
struct Call {
  explicit Call(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  double run_id = 0;
  std::shared_ptr<std::atomic<bool>> cancel;  // runs only
  Napi::FunctionReference on_progress, on_block;
  std::shared_ptr<Link> link = std::make_shared<Link>();
};

// A throwing JS callback must not abort the run: its exception is reported once
// on the console by Node and the run goes on.
void call_back(Napi::FunctionReference& f, Napi::Object arg) {
  try {
    f.Call({arg});
  } catch (const Napi::Error& e) {
    e.Env().Global().Get("console").As<Napi::Object>().Get("error").As<Napi::Function>().Call({e.Value()});
  }
}

// On the JS thread, in the order the engine thread sent them.
void deliver_one(Napi::Env env, Call* call, const Delivery* d) {
  Napi::HandleScope scope(env);
  if (d->outcome) {
    if (call->cancel) unregister_run(call->run_id, call->cancel);
    report_external_memory(env);
    if (d->outcome->ok)
      call->deferred.Resolve(Napi::String::New(env, d->outcome->result));
    else
      call->deferred.Reject(to_error(env, d->outcome->failure).Value());
    return;
  }
  const RunEvent& e = d->event;
  if (e.is_block) {
    if (call->on_block.IsEmpty()) return;
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", e.block.created ? "created" : "freed");
    o.Set("scc", e.block.scc);
    o.Set("vertices", e.block.vertices);
    o.Set("bytes", static_cast<double>(e.block.bytes));
    o.Set("timeMs", e.block.time_ms);
    call_back(call->on_block, o);
  } else {
    if (call->on_progress.IsEmpty()) return;
    Napi::Object o = Napi::Object::New(env);
    o.Set("phase", phasic::phase_name(e.progress.phase));
    o.Set("done", static_cast<double>(e.progress.done));
    o.Set("total", static_cast<double>(e.progress.total));
    call_back(call->on_progress, o);
  }
}

void deliver(Napi::Env env, Napi::Function, Call* call, Delivery* d) {
  std::unique_ptr<Delivery> owned(d);
  if (env == nullptr || call == nullptr) return;  // the environment is being torn down
  // A Node-API call fails (and node-addon-api throws) when JS can no longer run, as
  // in a worker thread being terminated; the delivery is then dropped, since no
  // exception may leave this callback.
  try {
    deliver_one(env, call, d);
  } catch (const Napi::Error&) {
  }
}

using Channel = Napi::TypedThreadSafeFunction<Call, Delivery, deliver>;

// The engine thread's end of a call's channel. Once Node answers napi_closing or the
// channel is gone (its environment is going away) nothing more is sent, and the
// channel is not touched again.
class Outbox {
 public:
  Outbox(Channel channel, std::shared_ptr<Link> link) : channel_(channel), link_(std::move(link)) {}

  void send(const RunEvent& e) {
    if (closed_) return;
    auto d = std::make_unique<Delivery>();
    d->event = e;
    put(std::move(d), false);
  }

  // The last delivery; releases the channel.
  void finish(std::unique_ptr<Outcome> outcome) {
    if (closed_) return;
    auto d = std::make_unique<Delivery>();
    d->outcome = std::move(outcome);
    put(std::move(d), true);
    std::lock_guard lock(link_->mutex);
    if (!closed_ && !link_->gone) channel_.Release();
  }

 private:
  void put(std::unique_ptr<Delivery> d, bool blocking) {
    std::lock_guard lock(link_->mutex);
    if (link_->gone) {
      closed_ = true;
      return;
    }
    const napi_status status = blocking ? channel_.BlockingCall(d.get()) : channel_.NonBlockingCall(d.get());
    if (status == napi_ok) d.release();
    else if (status == napi_closing) closed_ = true;
  }

  Channel channel_;
  std::shared_ptr<Link> link_;
  bool closed_ = false;
};

using Work = std::function<std::string(Outbox&)>;

// Queues `work` on the engine thread and returns the promise its outcome settles.
// The work (and what it captured, such as a model's text) is freed on the engine
// thread before the outcome is sent.
Napi::Promise start(Napi::Env env, std::unique_ptr<Call> call, Work work) {
  const Napi::Promise promise = call->deferred.Promise();
  Call* context = call.get();
  std::shared_ptr<Link> link = call->link;
  Channel channel = Channel::New(env, "phasic.engine", 0, 1, context, [](Napi::Env, void*, Call* c) {
    {
      std::lock_guard lock(c->link->mutex);
      c->link->gone = true;
    }
    delete c;
  });
  call.release();  // the channel's finalizer deletes it
  try {
    EngineThread::post([channel, link = std::move(link), work = std::move(work)]() mutable {
      Outbox outbox(channel, std::move(link));
      auto outcome = std::make_unique<Outcome>();
      outcome->ok = capture([&] { outcome->result = work(outbox); }, outcome->failure);
      work = nullptr;
      outbox.finish(std::move(outcome));
    });
  } catch (const std::exception& e) {  // the engine thread could not be started
    channel.Release();
    throw Napi::Error::New(env, std::string("the engine thread could not be started: ") + e.what());
  }
  return promise;
}

Napi::Promise start_job(Napi::Env env, std::function<std::string()> job) {
  return start(env, std::make_unique<Call>(env), [job = std::move(job)](Outbox&) { return job(); });
}

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
  auto call = std::make_unique<Call>(env);
  call->run_id = info[0].As<Napi::Number>().DoubleValue();
  call->cancel = register_run(call->run_id);
  if (Napi::Function f = function_at(3); !f.IsEmpty()) call->on_progress = Napi::Persistent(f);
  if (Napi::Function f = function_at(4); !f.IsEmpty()) call->on_block = Napi::Persistent(f);
  const double run_id = call->run_id;
  std::shared_ptr<std::atomic<bool>> cancel = call->cancel;
  struct Unregister {  // if the run is never started
    double id;
    std::shared_ptr<std::atomic<bool>> flag;
    bool armed = true;
    ~Unregister() {
      if (armed) unregister_run(id, flag);
    }
  } unregister{run_id, cancel};
  Napi::Promise promise = start(env, std::move(call),
               [model = info[1].As<Napi::String>().Utf8Value(), options = std::move(options),
                cancel = std::move(cancel)](Outbox& outbox) {
                 phasic::RunObserver observer;
                 observer.cancel = cancel.get();
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
  unregister.armed = false;
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
  return start_job(env, [key = info[0].As<Napi::String>().Utf8Value(), sets = std::move(sets), moments,
                         pairs = std::move(pairs)] { return engine().evaluate(key, sets, moments, pairs); });
}

Napi::Value ClearCaches(const Napi::CallbackInfo& info) {
  return start_job(info.Env(), [] { return engine().clear_caches(); });
}

// exportPhasicJson(modelText, maxStates) → Promise<string>
Napi::Value ExportPhasicJson(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "exportPhasicJson(modelText, maxStates?)");
  std::uint64_t max_states = 2'000'000;
  if (info.Length() > 1 && info[1].IsNumber()) max_states = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
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
  exports.Set("clearCaches", Napi::Function::New(env, ClearCaches));
  exports.Set("exportPhasicJson", Napi::Function::New(env, ExportPhasicJson));
  return exports;
}

}  // namespace

NODE_API_MODULE(phasic_engine, Init)
