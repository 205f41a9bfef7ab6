// The engine thread and the way back: every run, evaluation, clear and export is
// queued on one long-lived thread in call order, and what it sends (a run's progress
// and block events, then the call's outcome) reaches the JS thread in the order it
// was sent, the outcome last, through the call's thread-safe function.
//
// Invariant: a call's promise settles exactly once, after all its events were
// delivered, unless the call's environment is torn down first; the engine thread
// never touches a call's JS objects.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "engine/engine.hpp"
#include "failure.hpp"

namespace phasic::binding {

struct RunEvent {
  bool is_block = false;
  RunProgress progress{};
  BlockEvent block{};
};

// What the engine thread sends the JS thread: a run's event, or a call's outcome
// (last).
struct Outcome {
  bool ok = false;
  std::string result;  // the JSON text the promise resolves with
  Failure failure;
};
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
  Napi::FunctionReference on_progress, on_block;
  std::function<void()> on_settle;  // on the JS thread, before the promise settles
  std::shared_ptr<Link> link = std::make_shared<Link>();
};

void deliver(Napi::Env env, Napi::Function, Call* call, Delivery* delivery);
using Channel = Napi::TypedThreadSafeFunction<Call, Delivery, deliver>;

// The engine thread's end of a call's channel. Once Node answers napi_closing or the
// channel is gone (its environment is going away) nothing more is sent, and the
// channel is not touched again.
class Outbox {
 public:
  Outbox(Channel channel, std::shared_ptr<Link> link) : channel_(channel), link_(std::move(link)) {}
  void send(const RunEvent& e);
  // The last delivery; releases the channel.
  void finish(std::unique_ptr<Outcome> outcome);

 private:
  void put(std::unique_ptr<Delivery> d, bool blocking);

  Channel channel_;
  std::shared_ptr<Link> link_;
  bool closed_ = false;
};

using Work = std::function<std::string(Outbox&)>;

// Queues `work` on the engine thread and returns the promise its outcome settles.
// The work (and what it captured, such as a model's text) is freed on the engine
// thread before the outcome is sent.
Napi::Promise start(Napi::Env env, std::unique_ptr<Call> call, Work work);
Napi::Promise start_job(Napi::Env env, std::function<std::string()> job);

// V8 schedules garbage collection by heap pressure; the engine's caches are part of
// this process's memory, so it is told how much they hold (after every call and
// every configuration).
void report_external_memory(Napi::Env env);

}  // namespace phasic::binding
