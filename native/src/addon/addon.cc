// Module registration only; each wrapped class lives in its own file.
#include <napi.h>

#include "addon/bench_wrap.h"
#include "addon/convert.h"
#include "addon/file_lock.h"
#include "addon/model_registry.h"
#include "addon/model_wrap.h"
#include "addon/task.h"
#include "common/threadpool.h"
#include "plast/backend.h"

namespace plast {

Napi::Object init(Napi::Env env, Napi::Object exports);

namespace {

Napi::Value backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto list = listBackends();
  auto arr = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", list[i].name);
    o.Set("available", list[i].available);
    if (!list[i].reason.empty()) o.Set("reason", list[i].reason);
    if (!list[i].device.empty()) o.Set("device", list[i].device);
    arr.Set(i, o);
  }
  return arr;
}

Napi::Value threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), numThreads());
}

// memory(backend): bytes in use on a backend, with no model needed (e.g. after dispose()).
Napi::Value memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] { return memoryToJs(env, *getBackend(argString(info, 0, "backend"))); });
}

Napi::Value archs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto list = modelArchs();
  auto arr = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) arr.Set(i, list[i]);
  return arr;
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("backends", Napi::Function::New(env, backends));
  exports.Set("threads", Napi::Function::New(env, threads));
  exports.Set("memory", Napi::Function::New(env, memory));
  exports.Set("modelArchs", Napi::Function::New(env, archs));
  exports.Set("NativeModel", ModelWrap::define(env));
  registerBench(env, exports);
  registerFileLock(env, exports);
#ifdef PLAST_WITH_CUDA
  exports.Set("cudaCompiled", Napi::Boolean::New(env, true));
#else
  exports.Set("cudaCompiled", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace plast

static Napi::Object plastInit(Napi::Env env, Napi::Object exports) {
  return plast::init(env, exports);
}

NODE_API_MODULE(plast, plastInit)
