// AdamW over fp32 masters (torch.optim.AdamW single-tensor semantics), and the gradient norm.
#include <cmath>

#include "common/checks.h"
#include "common/threadpool.h"
#include "cpu/cpu_backend.h"

namespace plast {

AdamWScalars adamwScalars(const AdamWParams& p) {
  PLAST_CHECK(p.step >= 1, Code::Invalid, "adamw: step must be >= 1 but is " << p.step);
  double bc1 = 1.0 - std::pow(p.beta1, static_cast<double>(p.step));
  double bc2 = 1.0 - std::pow(p.beta2, static_cast<double>(p.step));
  AdamWScalars s;
  s.decay = static_cast<float>(1.0 - p.lr * p.weightDecay);
  s.oneMinusBeta1 = static_cast<float>(1.0 - p.beta1);
  s.beta2 = static_cast<float>(p.beta2);
  s.oneMinusBeta2 = static_cast<float>(1.0 - p.beta2);
  s.stepSize = static_cast<float>(p.lr / bc1);
  s.bc2Sqrt = static_cast<float>(std::sqrt(bc2));
  s.eps = static_cast<float>(p.eps);
  s.gradScale = static_cast<float>(p.gradScale);
  return s;
}

void CpuBackend::adamw(const std::vector<AdamWSlot>& slots, const AdamWParams& p) {
  const char* op = "adamw";
  AdamWScalars s = adamwScalars(p);
  for (const AdamWSlot& sl : slots) {
    for (const Tensor* t : std::initializer_list<const Tensor*>{&sl.master, &sl.grad, &sl.m, &sl.v}) {
      checkShape(*t, sl.master.shape, op, "master/grad/m/v");
      checkDType(*t, {DType::F32}, op, "master/grad/m/v");
    }
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
      checkShape(sl.weight, sl.master.shape, op, "weight");
      Tensor dst = sl.weight;
      cast(sl.master, dst);
    }
  }
}

double CpuBackend::sumSquares(const std::vector<Tensor>& xs) {
  double total = 0;
  for (const Tensor& x : xs) {
    checkDType(x, {DType::F32}, "sum_squares", "x");
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
