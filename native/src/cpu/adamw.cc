// AdamW over fp32 masters (torch.optim.AdamW single-tensor semantics), and the gradient norm.
#include <cmath>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"

namespace plast {

void CpuBackend::adamwImpl(const std::vector<AdamWSlot>& slots, const AdamWParams& p) {
  AdamWScalars s = adamwScalars(p);
  for (const AdamWSlot& sl : slots) {
    float *w = sl.master.ptr<float>(), *m = sl.m.ptr<float>(), *v = sl.v.ptr<float>();
    const float* g = sl.grad.ptr<float>();
    parallelFor(sl.master.numel(), 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float gi = s.gradScale == 1.0f ? g[i] : g[i] * s.gradScale;
        w[i] *= s.decay;
        m[i] = m[i] + s.oneMinusBeta1 * (gi - m[i]);
        v[i] = v[i] * s.beta2 + s.oneMinusBeta2 * gi * gi;
        float denom = std::sqrt(v[i]) / s.bc2Sqrt + s.eps;
        w[i] = w[i] - s.stepSize * (m[i] / denom);
      }
    });
    if (sl.weight.defined() && sl.weight.data() != sl.master.data()) {
      Tensor dst = sl.weight;
      cast(sl.master, dst);
    }
  }
}

double CpuBackend::sumSquaresImpl(const std::vector<Tensor>& xs) {
  double total = 0;
  for (const Tensor& x : xs) {
    const float* p = x.ptr<float>();
    int64_t n = x.numel();
    int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(numThreads() * 4, n / 4096 + 1));
    std::vector<double> part(chunks, 0.0);
    int64_t per = (n + chunks - 1) / chunks;
    parallelFor(chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        double acc = 0;
        for (int64_t i = c * per; i < std::min(n, (c + 1) * per); ++i) acc += double(p[i]) * p[i];
        part[c] = acc;
      }
    });
    for (double v : part) total += v;  // fixed order: deterministic
  }
  return total;
}

}  // namespace plast
