#include "addon/model_wrap.h"

#include "addon/convert.h"
#include "addon/model_registry.h"
#include "addon/task.h"
#include "common/finite.h"
#include "common/mapped_file.h"

namespace plast {
namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  int64_t begin, end;
};

DType parseDType(const std::string& s, const std::string& file, const std::string& name) {
  if (s == "BF16") return DType::BF16;
  if (s == "F16") return DType::F16;
  if (s == "F32") return DType::F32;
  PLAST_FAIL(Code::DType, file << ": tensor '" << name << "' has dtype " << s
                               << ", expected one of BF16, F16, F32");
}

Batch readBatch(const Napi::Object& o) {
  Batch b;
  b.B = getInt(o, "B", "batch");
  b.T = getInt(o, "T", "batch");
  b.ids = getI32(o, "ids", true);
  b.positions = getI32(o, "positions", true);
  b.keyMask = getI32(o, "keyMask", true);
  b.countMask = getI32(o, "countMask", false);
  b.logitRows = getI32(o, "logitRows", false);
  b.labels = getI32(o, "labels", false);
  b.wantGates = getBool(o, "wantGates");
  b.embedRows = getI32(o, "embedRows", false);
  b.hiddenRows = getI32(o, "hiddenRows", false);
  b.hiddenLayers = getI32(o, "hiddenLayers", false);
  b.wantHidden = getBool(o, "wantHidden");
  b.lens = getBool(o, "lens");
  b.wantLensLogits = getBool(o, "wantLensLogits");
  b.lensTokens = getI32(o, "lensTokens", false);
  b.lensTopK = static_cast<int32_t>(getNumberOr(o, "lensTopK", 0));
  Napi::Value embeds = o.Get("embeds");
  if (!embeds.IsUndefined() && !embeds.IsNull()) b.embeds = getF32(embeds, "batch.embeds");
  return b;
}

ParamPart parsePart(const std::string& s) {
  if (s == "weight") return ParamPart::Weight;
  if (s == "master") return ParamPart::Master;
  if (s == "grad") return ParamPart::Grad;
  if (s == "m") return ParamPart::M;
  if (s == "v") return ParamPart::V;
  PLAST_FAIL(Code::Invalid, "Expected one of weight, master, grad, m, v but received '" << s << "'");
}

}  // namespace

Napi::Function ModelWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("loadTensors", &ModelWrap::loadTensors),
                      InstanceMethod("finalize", &ModelWrap::finalize),
                      InstanceMethod("expectedWeights", &ModelWrap::expectedWeights),
                      InstanceMethod("forward", &ModelWrap::forward),
                      InstanceMethod("encode", &ModelWrap::encode),
                      InstanceMethod("setTrainable", &ModelWrap::setTrainable),
                      InstanceMethod("trainable", &ModelWrap::trainable),
                      InstanceMethod("forwardBackward", &ModelWrap::forwardBackward),
                      InstanceMethod("zeroGrad", &ModelWrap::zeroGrad),
                      InstanceMethod("gradSumSquares", &ModelWrap::gradSumSquares),
                      InstanceMethod("adamw", &ModelWrap::adamw),
                      InstanceMethod("read", &ModelWrap::read),
                      InstanceMethod("write", &ModelWrap::write),
                      InstanceMethod("memory", &ModelWrap::memory),
                      InstanceMethod("backendName", &ModelWrap::backendName),
                      InstanceMethod("arch", &ModelWrap::arch),
                      InstanceMethod("dispose", &ModelWrap::dispose),
                      InstanceMethod("disposed", &ModelWrap::disposed)});
}

// new NativeModel(backend, config, arch = "llama")
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  guard(info.Env(), [&] {
    std::string backend = argString(info, 0, "backend");
    Napi::Object c = argObject(info, 1, "config");
    std::string arch = info.Length() > 2 && !info[2].IsUndefined() ? argString(info, 2, "arch") : "llama";
    state_->model = createModel(arch, backend, c);
  });
}

void ModelWrap::State::leave() {
  std::unique_ptr<Model> dead;
  {
    std::lock_guard<std::mutex> lk(mu);
    if (--inFlight == 0 && disposed) dead = std::move(model);
  }
}  // the model (if disposed) is destroyed here, outside the lock

Model& ModelWrap::live() {
  PLAST_CHECK(!state_->disposed, Code::Invalid, "model was disposed: its weights and training state are freed");
  return *state_->model;
}

template <typename Work>
Napi::Value ModelWrap::queue(Napi::Env env, Work work, std::function<Napi::Value(Napi::Env)> done) {
  live();
  std::shared_ptr<State> s = state_;
  {
    std::lock_guard<std::mutex> lk(s->mu);
    ++s->inFlight;
  }
  try {
    return Task::run(
        env,
        [s, work] {
          struct Leave {
            State& s;
            ~Leave() { s.leave(); }
          } leave{*s};  // declared first: runs after the model's lock below is released
          std::lock_guard<std::mutex> lk(s->model->mutex());
          work(*s->model);
        },
        std::move(done));
  } catch (...) {
    s->leave();
    throw;
  }
}

namespace {
Napi::Value undefinedDone(Napi::Env env) { return env.Undefined(); }
}  // namespace

Napi::Value ModelWrap::loadTensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    live();
    std::string file = argString(info, 0, "file");
    PLAST_CHECK(info.Length() > 1 && info[1].IsArray(), Code::Invalid,
                "Expected an array of tensor entries");
    auto arr = info[1].As<Napi::Array>();
    std::vector<Entry> entries;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Object o = arr.Get(i).As<Napi::Object>();
      Entry e;
      e.name = o.Get("name").As<Napi::String>().Utf8Value();
      e.dtype = parseDType(o.Get("dtype").As<Napi::String>().Utf8Value(), file, e.name);
      auto sh = o.Get("shape").As<Napi::Array>();
      for (uint32_t j = 0; j < sh.Length(); ++j)
        e.shape.push_back(static_cast<int64_t>(sh.Get(j).As<Napi::Number>().DoubleValue()));
      e.begin = getInt(o, "begin", "entry");
      e.end = getInt(o, "end", "entry");
      entries.push_back(std::move(e));
    }
    // Third argument: check every value is finite (default); false for trusted checkpoints.
    bool checkFinite = info.Length() < 3 || info[2].IsUndefined() || info[2].ToBoolean().Value();
    return queue(
        env,
        [file, entries, checkFinite](Model& model) {
          // Backends that reference host memory (the CPU) keep the mapping alive through their
          // tensors; it is unmapped when the last of them is freed.
          auto mf = mapFile(file);
          std::shared_ptr<void> keep = mf;
          for (const Entry& e : entries) {
            int64_t n = 1;
            for (auto d : e.shape) n *= d;
            PLAST_CHECK(e.begin >= 0 && e.begin <= e.end && static_cast<size_t>(e.end) <= mf->size,
                        Code::Format,
                        file << ": tensor '" << e.name << "' data [" << e.begin << ", " << e.end
                             << ") lies outside the file (" << mf->size << " bytes)");
            PLAST_CHECK(static_cast<size_t>(e.end - e.begin) == n * dtypeSize(e.dtype), Code::Format,
                        file << ": tensor '" << e.name << "' shape " << shapeStr(e.shape) << " x "
                             << dtypeName(e.dtype) << " needs " << n * dtypeSize(e.dtype)
                             << " bytes but its data range holds " << (e.end - e.begin));
            if (checkFinite) {
              int64_t bad = firstNonFinite(mf->data + e.begin, e.dtype, n);
              PLAST_CHECK(bad < 0, Code::Format,
                          file << ": tensor '" << e.name << "' holds a non-finite value (NaN or Inf) at "
                               << "flat index " << bad << " of " << n
                               << " (a damaged checkpoint; to load it anyway, pass checkFinite: false)");
            }
            Tensor t = model.backend()->loadWeight(mf->data + e.begin, e.shape, e.dtype, keep);
            try {
              model.setWeight(e.name, std::move(t));
            } catch (const Error& err) {
              throw Error(err.code(), file + ": " + err.what());
            }
          }
        },
        undefinedDone);
  });
}

Napi::Value ModelWrap::finalize(const Napi::CallbackInfo& info) {
  guard(info.Env(), [&] { live().finalize(); });
  return info.Env().Undefined();
}

Napi::Value ModelWrap::expectedWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    Model& model = live();
    auto names = model.expectedWeights();
    auto arr = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", names[i]);
      Shape s = model.expectedShape(names[i]);
      auto sh = Napi::Array::New(env, s.size());
      for (size_t j = 0; j < s.size(); ++j) sh.Set(j, Napi::Number::New(env, double(s[j])));
      o.Set("shape", sh);
      arr.Set(i, o);
    }
    return arr;
  });
}

Napi::Value ModelWrap::forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    live();
    Batch b = readBatch(argObject(info, 0, "batch"));
    bool counts = !b.countMask.empty();
    auto out = std::make_shared<ForwardResult>();
    return queue(
        env, [b, counts, out](Model& model) { *out = model.forward(b, counts); },
        [out, counts](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          if (counts) {
            auto c = Napi::BigInt64Array::New(env, out->counts.size());
            std::memcpy(c.Data(), out->counts.data(), out->counts.size() * sizeof(int64_t));
            r.Set("counts", c);
          } else {
            r.Set("counts", env.Null());
          }
          r.Set("countedTokens", Napi::Number::New(env, double(out->countedTokens)));
          r.Set("logits", out->logits.empty() ? env.Null() : Napi::Value(toJs(env, out->logits)));
          if (!out->gates.empty()) r.Set("gates", toJs(env, out->gates));
          if (out->hiddenLayerCount > 0) {
            auto i32 = [env](const std::vector<int32_t>& v) {
              auto a = Napi::Int32Array::New(env, v.size());
              if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(int32_t));
              return a;
            };
            r.Set("hiddenLayerCount", Napi::Number::New(env, double(out->hiddenLayerCount)));
            if (!out->hidden.empty()) r.Set("hidden", toJs(env, out->hidden));
            if (!out->lensLogits.empty()) r.Set("lensLogits", toJs(env, out->lensLogits));
            if (!out->lensEntropy.empty()) {
              r.Set("lensProbs", toJs(env, out->lensProbs));
              r.Set("lensRanks", i32(out->lensRanks));
              r.Set("lensTopIds", i32(out->lensTopIds));
              r.Set("lensTopProbs", toJs(env, out->lensTopProbs));
              r.Set("lensEntropy", toJs(env, out->lensEntropy));
            }
          }
          return r;
        });
  });
}

// encode({ B, pixels: Float32Array [B, C, S, S], wantHidden? }) -> { features, hidden }
Napi::Value ModelWrap::encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    live();
    Napi::Object o = argObject(info, 0, "images");
    ImageBatch b;
    b.B = getInt(o, "B", "images");
    b.pixels = getF32(o.Get("pixels"), "images.pixels");
    b.wantHidden = getBool(o, "wantHidden");
    auto out = std::make_shared<ImageResult>();
    return queue(
        env, [b, out](Model& model) { *out = model.encode(b); },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("features", toJs(env, out->features));
          r.Set("hidden", out->hidden.empty() ? env.Null() : Napi::Value(toJs(env, out->hidden)));
          return r;
        });
  });
}

Napi::Value ModelWrap::setTrainable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    live();
    PLAST_CHECK(info.Length() > 0, Code::Invalid, "Expected an array of tensor names");
    auto names = getStrings(info[0], "trainable tensor names");
    return queue(env, [names](Model& model) { model.setTrainable(names); }, undefinedDone);
  });
}

Napi::Value ModelWrap::trainable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    auto names = live().trainable();
    auto arr = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) arr.Set(i, names[i]);
    return arr;
  });
}

Napi::Value ModelWrap::forwardBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    live();
    Batch b = readBatch(argObject(info, 0, "batch"));
    PLAST_CHECK(info.Length() > 1 && info[1].IsNumber(), Code::Invalid,
                "Expected a number for lossScale");
    float scale = info[1].As<Napi::Number>().FloatValue();
    auto out = std::make_shared<TrainResult>();
    return queue(
        env, [b, scale, out](Model& model) { *out = model.forwardBackward(b, scale); },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("lossSum", Napi::Number::New(env, out->lossSum));
          r.Set("labelTokens", Napi::Number::New(env, double(out->labelTokens)));
          r.Set("losses", toJs(env, out->losses));
          return r;
        });
  });
}

Napi::Value ModelWrap::zeroGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] { return queue(env, [](Model& model) { model.zeroGrad(); }, undefinedDone); });
}

Napi::Value ModelWrap::gradSumSquares(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    auto out = std::make_shared<double>(0);
    return queue(
        env, [out](Model& model) { *out = model.gradSumSquares(); },
        [out](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *out); });
  });
}

Napi::Value ModelWrap::adamw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    live();
    Napi::Object o = argObject(info, 0, "adamw parameters");
    AdamWParams p;
    p.lr = getNumber(o, "lr", "adamw");
    p.beta1 = getNumberOr(o, "beta1", 0.9);
    p.beta2 = getNumberOr(o, "beta2", 0.999);
    p.eps = getNumberOr(o, "eps", 1e-8);
    p.weightDecay = getNumberOr(o, "weightDecay", 0.0);
    p.step = getInt(o, "step", "adamw");
    p.gradScale = getNumberOr(o, "gradScale", 1.0);
    return queue(env, [p](Model& model) { model.adamwStep(p); }, undefinedDone);
  });
}

Napi::Value ModelWrap::read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    live();
    std::string name = argString(info, 0, "tensor name");
    ParamPart part = info.Length() > 1 ? parsePart(argString(info, 1, "part")) : ParamPart::Weight;
    auto out = std::make_shared<std::vector<float>>();
    return queue(
        env, [name, part, out](Model& model) { *out = model.read(name, part); },
        [out](Napi::Env env) -> Napi::Value { return toJs(env, *out); });
  });
}

Napi::Value ModelWrap::write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    live();
    std::string name = argString(info, 0, "tensor name");
    ParamPart part = parsePart(argString(info, 1, "part"));
    PLAST_CHECK(info.Length() > 2, Code::Invalid, "Expected a Float32Array of values");
    std::vector<float> data = getF32(info[2], "values");
    return queue(env, [name, part, data](Model& model) { model.write(name, part, data); }, undefinedDone);
  });
}

// Bytes in use on the model's backend (all models on it together, not this one alone). With a
// true argument the backend's peak restarts from the bytes in use after it is read (a sweep
// measures each variant's peak).
Napi::Value ModelWrap::memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&] {
    Backend* be = live().backend();
    Napi::Object r = memoryToJs(env, *be);
    if (info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value()) be->resetPeak();
    return r;
  });
}

Napi::Value ModelWrap::backendName(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return Napi::String::New(info.Env(), live().backend()->name()); });
}

Napi::Value ModelWrap::arch(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return Napi::String::New(info.Env(), live().arch()); });
}

// Frees the model now, or, while calls are in flight, as soon as the last of them ends. Later
// calls throw Invalid; a second dispose() does nothing.
Napi::Value ModelWrap::dispose(const Napi::CallbackInfo& info) {
  std::unique_ptr<Model> dead;
  {
    std::lock_guard<std::mutex> lk(state_->mu);
    if (!state_->disposed) {
      state_->disposed = true;
      if (state_->inFlight == 0) dead = std::move(state_->model);
    }
  }
  dead.reset();  // outside the lock: frees the weights, training state and file mappings
  return info.Env().Undefined();
}

Napi::Value ModelWrap::disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), state_->disposed);
}

}  // namespace plast
