// Reading JS arguments into C++ values with messages that say what was expected, and the few
// values the addon hands back.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "plast/backend.h"
#include "plast/error.h"

namespace plast {

inline Napi::Object argObject(const Napi::CallbackInfo& info, size_t i, const char* what) {
  PLAST_CHECK(info.Length() > i && info[i].IsObject(), Code::Invalid,
              "Expected an object for " << what);
  return info[i].As<Napi::Object>();
}

inline std::string argString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  PLAST_CHECK(info.Length() > i && info[i].IsString(), Code::Invalid,
              "Expected a string for " << what);
  return info[i].As<Napi::String>().Utf8Value();
}

inline double getNumber(const Napi::Object& o, const char* key, const char* what) {
  Napi::Value v = o.Get(key);
  PLAST_CHECK(v.IsNumber(), Code::Invalid, "Expected a number for " << what << "." << key);
  return v.As<Napi::Number>().DoubleValue();
}

inline double getNumberOr(const Napi::Object& o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
}

inline int64_t getInt(const Napi::Object& o, const char* key, const char* what) {
  double d = getNumber(o, key, what);
  PLAST_CHECK(d == static_cast<double>(static_cast<int64_t>(d)), Code::Invalid,
              "Expected an integer for " << what << "." << key << " but received " << d);
  return static_cast<int64_t>(d);
}

inline std::string getString(const Napi::Object& o, const char* key, const char* what) {
  Napi::Value v = o.Get(key);
  PLAST_CHECK(v.IsString(), Code::Invalid, "Expected a string for " << what << "." << key);
  return v.As<Napi::String>().Utf8Value();
}

inline bool getBoolOr(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

inline bool getBool(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

inline std::vector<int32_t> getI32(const Napi::Object& o, const char* key, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    PLAST_CHECK(!required, Code::Invalid, "Expected an Int32Array for batch." << key);
    return {};
  }
  PLAST_CHECK(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
              Code::Invalid, "Expected an Int32Array for batch." << key);
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

inline std::vector<float> getF32(const Napi::Value& v, const char* what) {
  PLAST_CHECK(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
              Code::Invalid, "Expected a Float32Array for " << what);
  auto a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

inline std::vector<std::string> getStrings(const Napi::Value& v, const char* what) {
  PLAST_CHECK(v.IsArray(), Code::Invalid, "Expected an array of strings for " << what);
  auto a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    PLAST_CHECK(e.IsString(), Code::Invalid, "Expected a string at " << what << "[" << i << "]");
    out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return out;
}

inline Napi::Float32Array toJs(Napi::Env env, const std::vector<float>& v) {
  auto a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

// { inUse, peak }: bytes allocated on a backend now and at most since its last resetPeak.
inline Napi::Object memoryToJs(Napi::Env env, const Backend& be) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("inUse", Napi::Number::New(env, double(be.bytesInUse())));
  r.Set("peak", Napi::Number::New(env, double(be.peakBytes())));
  return r;
}

}  // namespace plast
