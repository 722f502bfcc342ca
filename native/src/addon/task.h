// The async "baton": arguments are copied into plain C++ values on the main thread, the work runs
// on a libuv worker that never touches N-API, and the Promise settles on the main thread. Native
// errors reject with an Error carrying `.code` (ERR_SHAPE, ERR_FORMAT, ...).
#pragma once
#include <napi.h>

#include <functional>
#include <new>
#include <string>

#include "plast/error.h"

namespace plast {

class Task : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise run(Napi::Env env, Work work, Done done) {
    auto* t = new Task(env, std::move(work), std::move(done));
    Napi::Promise p = t->deferred_.Promise();
    t->Queue();
    return p;
  }

 private:
  Task(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env, "plast"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), done_(std::move(done)) {}

  void Execute() override {
    try {
      work_();
    } catch (const Error& e) {
      code_ = e.codeName();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "ERR_OOM";
      SetError("out of host memory");
    } catch (const std::exception& e) {
      code_ = "ERR_INTERNAL";
      SetError(e.what());
    }
  }
  void OnOK() override {
    try {
      deferred_.Resolve(done_(Env()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), code_));
    deferred_.Reject(err.Value());
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::string code_ = "ERR_INTERNAL";
};

// Runs fn on the main thread, turning plast::Error into a thrown JS Error with `.code`.
template <typename Fn>
auto guard(Napi::Env env, Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, e.codeName()));
    throw err;
  } catch (const std::bad_alloc&) {
    Napi::Error err = Napi::Error::New(env, "out of host memory");
    err.Set("code", Napi::String::New(env, "ERR_OOM"));
    throw err;
  }
}

}  // namespace plast
