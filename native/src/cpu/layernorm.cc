// LayerNorm (torch.nn.LayerNorm: biased variance, eps inside the square root), computed in
// double over each row, output in f32.
#include <cmath>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"
#include "cpu/float_access.h"

namespace plast {

void CpuBackend::layernormImpl(const Tensor& x, const Tensor& w, const Tensor* b, float eps,
                               Tensor& y) {
  int64_t N = x.dim(0), D = x.dim(1);
  const float* xp = x.ptr<float>();
  float* yp = y.ptr<float>();
  const void* wp = w.data();
  const void* bp = b ? b->data() : nullptr;
  DType wt = w.dtype, bt = b ? b->dtype : DType::F32;
  parallelFor(N, 16, [&](int64_t s, int64_t e) {
    for (int64_t n = s; n < e; ++n) {
      const float* xr = xp + n * D;
      double sum = 0;
      for (int64_t i = 0; i < D; ++i) sum += xr[i];
      double mean = D ? sum / D : 0.0, ss = 0;
      for (int64_t i = 0; i < D; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
      // In double: f32 (x - mean) loses the row's detail when the mean is large.
      double r = 1.0 / std::sqrt((D ? ss / D : 0.0) + eps);
      float* yr = yp + n * D;
      for (int64_t i = 0; i < D; ++i) {
        double v = (xr[i] - mean) * r * loadF32(wp, wt, i);
        yr[i] = static_cast<float>(bp ? v + loadF32(bp, bt, i) : v);
      }
    }
  });
}

}  // namespace plast
