#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>

#include "model/model.h"

namespace plast {

// JS class NativeModel: one Model (any kind in model_registry) on one backend. It owns the model:
// its weights (device memory, or references into mapped checkpoint files), its trainable set and
// optimizer state. Heavy methods return Promises; dispose() frees everything now.
class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  // Shared with the async calls: work queued on a worker keeps it, so the model outlives a wrapper
  // collected mid-call. dispose() frees the model at once when no call is in flight, else the last
  // call in flight frees it when its work ends (before its Promise settles).
  struct State {
    std::mutex mu;  // guards inFlight, disposed and the release of model (Model::mutex guards its use)
    int inFlight = 0;
    bool disposed = false;  // written on the main thread only
    std::unique_ptr<Model> model;
    void leave();  // a call's work ended
  };

  Napi::Value loadTensors(const Napi::CallbackInfo& info);
  Napi::Value finalize(const Napi::CallbackInfo& info);
  Napi::Value expectedWeights(const Napi::CallbackInfo& info);
  Napi::Value forward(const Napi::CallbackInfo& info);
  Napi::Value encode(const Napi::CallbackInfo& info);
  Napi::Value setTrainable(const Napi::CallbackInfo& info);
  Napi::Value trainable(const Napi::CallbackInfo& info);
  Napi::Value forwardBackward(const Napi::CallbackInfo& info);
  Napi::Value zeroGrad(const Napi::CallbackInfo& info);
  Napi::Value gradSumSquares(const Napi::CallbackInfo& info);
  Napi::Value adamw(const Napi::CallbackInfo& info);
  Napi::Value read(const Napi::CallbackInfo& info);
  Napi::Value write(const Napi::CallbackInfo& info);
  Napi::Value memory(const Napi::CallbackInfo& info);
  Napi::Value backendName(const Napi::CallbackInfo& info);
  Napi::Value arch(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);

  Model& live();  // the model, or Invalid "model was disposed"
  // Runs work(model) on a worker under the model's lock; the Promise resolves with done(env).
  template <typename Work>
  Napi::Value queue(Napi::Env env, Work work, std::function<Napi::Value(Napi::Env)> done);

  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace plast
