// Why one thread: docs/decisions.md, "One engine thread in the addon".
#include "engine_thread.hpp"

#include <condition_variable>
#include <deque>
#include <thread>

namespace phasic::binding {

namespace {

// Every call runs on this one long-lived thread, in the order the calls were made.
class EngineThread {
 public:
  static void post(std::function<void()> job) {
    static EngineThread* thread = new EngineThread();  // never destroyed, like engine()
    thread->push(std::move(job));
  }

 private:
  EngineThread() {
    std::thread([this] { loop(); }).detach();
  }

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
    if (call->on_settle) call->on_settle();
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
    o.Set("phase", phase_name(e.progress.phase));
    o.Set("done", static_cast<double>(e.progress.done));
    o.Set("total", static_cast<double>(e.progress.total));
    call_back(call->on_progress, o);
  }
}

}  // namespace

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

void Outbox::send(const RunEvent& e) {
  if (closed_) return;
  auto d = std::make_unique<Delivery>();
  d->event = e;
  put(std::move(d), false);
}

void Outbox::finish(std::unique_ptr<Outcome> outcome) {
  if (closed_) return;
  auto d = std::make_unique<Delivery>();
  d->outcome = std::move(outcome);
  put(std::move(d), true);
  std::lock_guard lock(link_->mutex);
  if (!closed_ && !link_->gone) channel_.Release();
}

void Outbox::put(std::unique_ptr<Delivery> d, bool blocking) {
  std::lock_guard lock(link_->mutex);
  if (link_->gone) {
    closed_ = true;
    return;
  }
  const napi_status status = blocking ? channel_.BlockingCall(d.get()) : channel_.NonBlockingCall(d.get());
  if (status == napi_ok)
    d.release();
  else if (status == napi_closing)
    closed_ = true;
}

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
      try {
        outcome->result = work(outbox);
        outcome->ok = true;
      } catch (...) {
        outcome->failure = failure_of(std::current_exception());
      }
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

void report_external_memory(Napi::Env env) {
  static std::int64_t reported = 0;
  const auto now = static_cast<std::int64_t>(ledger().total());
  if (now != reported) Napi::MemoryManagement::AdjustExternalMemory(env, now - reported);
  reported = now;
}

}  // namespace phasic::binding
