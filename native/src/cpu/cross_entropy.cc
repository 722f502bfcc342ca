// Cross-entropy per row with an ignore index (-100), and its gradient w.r.t. the logits.
#include <cmath>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"

namespace plast {

void CpuBackend::crossEntropyImpl(const Tensor& logits, const Tensor& labels, float gradScale,
                              Tensor& losses, Tensor* dlogits) {
  int64_t P = logits.dim(0), V = logits.dim(1);
  const int32_t* lp = labels.ptr<int32_t>();
  const float* x = logits.ptr<float>();
  float* lo = losses.ptr<float>();
  float* dx = dlogits ? dlogits->ptr<float>() : nullptr;
  parallelFor(P, 1, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const float* xr = x + p * V;
      if (lp[p] == -100) {
        lo[p] = 0.f;
        if (dx)
          for (int64_t v = 0; v < V; ++v) dx[p * V + v] = 0.f;
        continue;
      }
      float mx = xr[0];
      for (int64_t v = 1; v < V; ++v) mx = std::max(mx, xr[v]);
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += std::exp(double(xr[v] - mx));
      double lse = mx + std::log(sum);
      lo[p] = static_cast<float>(lse - xr[lp[p]]);
      if (dx) {
        float* dr = dx + p * V;
        for (int64_t v = 0; v < V; ++v)
          dr[v] = static_cast<float>(std::exp(double(xr[v]) - lse)) * gradScale;
        dr[lp[p]] -= gradScale;
      }
    }
  });
}

}  // namespace plast
