// Helpers for the native op tests: seeded random data, host <-> backend tensors of any dtype,
// NaN poisoning, relative-error checks and a pass/fail tally.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "plast/backend.h"
#include "plast/compare.h"
#include "plast/half.h"

namespace plast {
namespace test {

struct Harness {
  uint64_t seed = 0;
  std::mt19937_64 rng;
  int passed = 0;
  std::vector<std::string> failed;
  bool verbose = false;

  explicit Harness(uint64_t s) : seed(s), rng(s) {}

  void result(const std::string& name, bool ok, const std::string& detail) {
    if (ok) {
      ++passed;
      if (verbose) std::printf("  ok    %-58s %s\n", name.c_str(), detail.c_str());
    } else {
      failed.push_back(name);
      std::printf("  FAIL  %-58s %s\n", name.c_str(), detail.c_str());
    }
    std::fflush(stdout);
  }

  std::vector<float> uniform(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }
  std::vector<float> normal(size_t n, float stddev) {
    std::normal_distribution<float> d(0.f, stddev);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }
  int randint(int lo, int hi) {  // [lo, hi]
    std::uniform_int_distribution<int> d(lo, hi);
    return d(rng);
  }
};

inline float roundBf16(float x) { return bf16ToF32(f32ToBf16(x)); }
inline std::vector<float> bf16Round(std::vector<float> v) {
  for (auto& x : v) x = roundBf16(x);
  return v;
}

inline std::string fmtErr(double e, double tol) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "rel err %.3g (tol %.3g)", e, tol);
  return buf;
}

inline bool checkRel(Harness& h, const std::string& name, const std::vector<float>& out,
                     const std::vector<float>& ref, double tol) {
  double e = relErr(out, ref);
  bool ok = e <= tol;
  h.result(name, ok, fmtErr(e, tol));
  return ok;
}

// ---- tensors ----

inline Tensor makeTensor(Backend* be, const std::vector<float>& v, const Shape& s, DType dt) {
  Tensor t = be->empty(s, dt);
  size_t n = static_cast<size_t>(t.numel());
  if (dt == DType::F32) {
    be->upload(t, v.data());
  } else {
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; ++i) h[i] = dt == DType::BF16 ? f32ToBf16(v[i]) : f32ToF16(v[i]);
    be->upload(t, h.data());
  }
  return t;
}

inline Tensor makeI32(Backend* be, const std::vector<int32_t>& v, const Shape& s) {
  Tensor t = be->empty(s, DType::I32);
  be->upload(t, v.data());
  return t;
}

inline Tensor makeI64(Backend* be, const std::vector<int64_t>& v, const Shape& s) {
  Tensor t = be->empty(s, DType::I64);
  be->upload(t, v.data());
  return t;
}

inline std::vector<int64_t> toHostI64(Backend* be, const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  be->download(t, v.data());
  return v;
}

// Fill with NaN so that elements an op fails to write are caught.
inline void poison(Backend* be, Tensor& t) {
  size_t n = static_cast<size_t>(t.numel());
  if (t.dtype == DType::F32) {
    std::vector<float> v(n, std::numeric_limits<float>::quiet_NaN());
    be->upload(t, v.data());
  } else if (t.dtype == DType::BF16 || t.dtype == DType::F16) {
    std::vector<uint16_t> v(n, t.dtype == DType::BF16 ? 0x7fc0 : 0x7e00);
    be->upload(t, v.data());
  }
}

inline Tensor poisoned(Backend* be, const Shape& s, DType dt) {
  Tensor t = be->empty(s, dt);
  poison(be, t);
  return t;
}

int runGradChecks(Harness& h);
int runContractChecks(Harness& h);
int runParity(Harness& h, Backend* cuda);

}  // namespace test
}  // namespace plast
