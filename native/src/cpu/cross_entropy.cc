// Cross-entropy per row with an ignore index (-100), and its gradient w.r.t. the logits.
#include <cmath>

#include "common/checks.h"
#include "common/threadpool.h"
#include "cpu/cpu_backend.h"

namespace plast {

void CpuBackend::crossEntropy(const Tensor& logits, const Tensor& labels, float gradScale,
                              Tensor& losses, Tensor* dlogits) {
  const char* op = "cross_entropy";
  checkRank(logits, 2, op, "logits");
  checkDType(logits, {DType::F32}, op, "logits");
  int64_t P = logits.dim(0), V = logits.dim(1);
  checkShape(labels, {P}, op, "labels");
  checkDType(labels, {DType::I32}, op, "labels");
  checkShape(losses, {P}, op, "losses");
  checkDType(losses, {DType::F32}, op, "losses");
  if (dlogits) {
    checkShape(*dlogits, logits.shape, op, "dlogits");
    checkDType(*dlogits, {DType::F32}, op, "dlogits");
  }
  const int32_t* lp = labels.ptr<int32_t>();
  for (int64_t p = 0; p < P; ++p)
    PLAST_CHECK(lp[p] == -100 || (lp[p] >= 0 && lp[p] < V), Code::Invalid,
                "cross_entropy: label " << lp[p] << " at row " << p
                                        << " is neither -100 nor in [0, " << V << ")");
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
