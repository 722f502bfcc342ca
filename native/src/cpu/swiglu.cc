// SwiGLU: h = silu(g) * u, with the PLAST count fused in: for every neuron j, the number of
// counted rows where the gate pre-activation g > 0 (equivalently silu(g) > 0).
#include <cmath>
#include <mutex>
#include <vector>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"

namespace plast {

void CpuBackend::swigluImpl(const Tensor& g, const Tensor& u, const Tensor* countMask, Tensor* counts,
                        Tensor& h) {
  int64_t N = g.dim(0), I = g.dim(1);
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

void CpuBackend::swigluBackwardImpl(const Tensor& dh, const Tensor& g, const Tensor& u, Tensor& dg,
                                Tensor& du) {
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
