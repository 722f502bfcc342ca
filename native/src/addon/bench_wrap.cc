// The kernel benchmark for `plast bench --op`: the variant registry and one op benchmark per call,
// run on a worker thread (the baton of task.h).
#include "addon/bench_wrap.h"

#include <memory>
#include <string>
#include <vector>

#include "addon/convert.h"
#include "addon/task.h"
#ifdef PLAST_WITH_CUDA
#include "bench/bench.h"
#include "cuda/variants.h"
#endif

namespace plast {
namespace {

#ifndef PLAST_WITH_CUDA
[[noreturn]] void noCuda() {
  PLAST_FAIL(Code::NoDevice, "this build has no CUDA backend (nvcc was not found when it was compiled)");
}
#endif

Napi::Value kernelVariants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
#ifdef PLAST_WITH_CUDA
    auto list = cuda::kernelVariants();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("op", list[i].op);
      o.Set("name", list[i].name);
      o.Set("dtypes", list[i].dtypes);
      o.Set("archs", list[i].archs);
      o.Set("note", list[i].note);
      arr.Set(i, o);
    }
    return arr;
#else
    noCuda();
#endif
  });
}

Napi::Value opBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
#ifdef PLAST_WITH_CUDA
    Napi::Object a = argObject(info, 0, "bench options");
    cuda::OpBenchOptions o;
    PLAST_CHECK(a.Get("op").IsString(), Code::Invalid, "Expected a string for options.op");
    o.op = a.Get("op").As<Napi::String>().Utf8Value();
    cuda::kernelOpFor(o.op);  // validates the op name here, with its message
    if (!a.Get("variants").IsUndefined()) o.variants = getStrings(a.Get("variants"), "options.variants");
    o.quick = getBool(a, "quick");
    o.fullCheck = !a.Get("fullCheck").IsBoolean() || a.Get("fullCheck").As<Napi::Boolean>().Value();
    o.iters = static_cast<int>(getNumberOr(a, "iters", 0));
    o.seed = static_cast<uint64_t>(getNumberOr(a, "seed", 1234));
    auto rows = std::make_shared<std::vector<cuda::BenchRow>>();
    return Task::run(
        env, [o, rows] { *rows = cuda::runOpBench(o); },
        [rows](Napi::Env env) -> Napi::Value {
          auto arr = Napi::Array::New(env, rows->size());
          for (size_t i = 0; i < rows->size(); ++i) {
            const cuda::BenchRow& r = (*rows)[i];
            Napi::Object o = Napi::Object::New(env);
            o.Set("bench", r.bench);
            o.Set("variant", r.variant);
            o.Set("shape", r.shape);
            o.Set("checked", r.checked);
            o.Set("ok", r.ok);
            o.Set("timed", r.timed);
            o.Set("err", r.err);
            o.Set("ms", r.ms);
            o.Set("tflops", r.tflops);
            o.Set("peakMiB", r.peakMiB);
            o.Set("note", r.note);
            arr.Set(i, o);
          }
          return arr;
        });
#else
    noCuda();
#endif
  });
}

}  // namespace

void registerBench(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelVariants", Napi::Function::New(env, kernelVariants));
  exports.Set("opBench", Napi::Function::New(env, opBench));
}

}  // namespace plast
