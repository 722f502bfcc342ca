#pragma once
#include <napi.h>

#include <memory>

#include "model/model.h"

namespace plast {

// JS class NativeModel: one Model (any kind in model_registry) on one backend. Heavy methods
// return Promises.
class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value loadTensors(const Napi::CallbackInfo& info);
  Napi::Value finalize(const Napi::CallbackInfo& info);
  Napi::Value expectedWeights(const Napi::CallbackInfo& info);
  Napi::Value forward(const Napi::CallbackInfo& info);
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

  std::shared_ptr<Model> model_;
};

}  // namespace plast
