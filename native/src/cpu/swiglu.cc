// SwiGLU: h = silu(g) * u, with the PLAST count fused in: for every neuron j, the number of
// counted rows where the gate pre-activation g > 0 (equivalently silu(g) > 0).
#include <cmath>
#include <mutex>
#include <vector>

#include "common/checks.h"
#include "common/threadpool.h"
#include "cpu/cpu_backend.h"

namespace plast {

void CpuBackend::swiglu(const Tensor& g, const Tensor& u, const Tensor* countMask, Tensor* counts,
                        Tensor& h) {
  const char* op = "swiglu";
  checkRank(g, 2, op, "g");
  int64_t N = g.dim(0), I = g.dim(1);
  checkShape(u, g.shape, op, "u");
  checkShape(h, g.shape, op, "h");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&g, &u, &h}) checkDType(*t, {DType::F32}, op, "g/u/h");
  PLAST_CHECK((countMask == nullptr) == (counts == nullptr), Code::Invalid,
              "swiglu: countMask and counts must be given together");
  if (counts) {
    checkShape(*countMask, {N}, op, "countMask");
    checkDType(*countMask, {DType::I32}, op, "countMask");
    checkShape(*counts, {I}, op, "counts");
    checkDType(*counts, {DType::I64}, op, "counts");
  }
  const float *gp = g.ptr<float>(), *up = u.ptr<float>();
  float* hp = h.ptr<float>();
  const int32_t* mp = counts ? countMask->ptr<int32_t>() : nullptr;
  int64_t* cp = counts ? counts->ptr<int64_t>() : nullptr;
  std::mutex mu;
  parallelFor(N, 16, [&](int64_t b, int64_t e) {
    std::vector<int64_t> local(cp ? I : 0, 0);
    for (int64_t n = b; n < e; ++n) {
      const float* gr = gp + n * I;
      const float* ur = up + n * I;
      float* hr = hp + n * I;
      for (int64_t j = 0; j < I; ++j) hr[j] = gr[j] / (1.0f + std::exp(-gr[j])) * ur[j];
      if (cp && mp[n] != 0)
        for (int64_t j = 0; j < I; ++j) local[j] += gr[j] > 0.0f;
    }
    if (cp) {
      std::lock_guard<std::mutex> lk(mu);
      for (int64_t j = 0; j < I; ++j) cp[j] += local[j];
    }
  });
}

void CpuBackend::swigluBackward(const Tensor& dh, const Tensor& g, const Tensor& u, Tensor& dg,
                                Tensor& du) {
  const char* op = "swiglu_backward";
  checkRank(g, 2, op, "g");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&dh, &u, &dg, &du}) checkShape(*t, g.shape, op, "dh/u/dg/du");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&dh, &g, &u, &dg, &du}) checkDType(*t, {DType::F32}, op, "tensors");
  const float *dhp = dh.ptr<float>(), *gp = g.ptr<float>(), *up = u.ptr<float>();
  float *dgp = dg.ptr<float>(), *dup = du.ptr<float>();
  parallelFor(g.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float x = gp[i];
      float s = 1.0f / (1.0f + std::exp(-x));
      float silu = x * s;
      dup[i] = dhp[i] * silu;
      dgp[i] = dhp[i] * up[i] * (s + x * s * (1.0f - s));
    }
  });
}

}  // namespace plast
