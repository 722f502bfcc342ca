// RMSNorm forward and backward (HF LlamaRMSNorm: normalise in f32, then scale by the weight).
#include <cmath>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"
#include "cpu/float_access.h"

namespace plast {

void CpuBackend::rmsnormImpl(const Tensor& x, const Tensor& w, float eps, Tensor& y, Tensor* rstd) {
  int64_t N = x.dim(0), D = x.dim(1);
  const float* xp = x.ptr<float>();
  float* yp = y.ptr<float>();
  float* rp = rstd ? rstd->ptr<float>() : nullptr;
  const void* wp = w.data();
  DType wt = w.dtype;
  parallelFor(N, 16, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      const float* xr = xp + n * D;
      double ss = 0;
      for (int64_t i = 0; i < D; ++i) ss += double(xr[i]) * xr[i];
      float r = 1.0f / std::sqrt(static_cast<float>(ss / D) + eps);
      if (rp) rp[n] = r;
      float* yr = yp + n * D;
      for (int64_t i = 0; i < D; ++i) yr[i] = loadF32(wp, wt, i) * (xr[i] * r);
    }
  });
}

void CpuBackend::rmsnormBackwardImpl(const Tensor& dy, const Tensor& x, const Tensor& w,
                                 const Tensor& rstd, Tensor& dx, bool accumulateDx, Tensor* dw) {
  int64_t N = x.dim(0), D = x.dim(1);
  const float* xp = x.ptr<float>();
  const float* dyp = dy.ptr<float>();
  const float* rp = rstd.ptr<float>();
  float* dxp = dx.ptr<float>();
  const void* wp = w.data();
  DType wt = w.dtype;
  parallelFor(N, 16, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      const float* xr = xp + n * D;
      const float* dyr = dyp + n * D;
      float r = rp[n];
      double dot = 0;  // sum_j w_j dy_j x_j
      for (int64_t j = 0; j < D; ++j) dot += double(loadF32(wp, wt, j)) * dyr[j] * xr[j];
      float c = static_cast<float>(dot) * r * r * r / static_cast<float>(D);
      float* dxr = dxp + n * D;
      for (int64_t j = 0; j < D; ++j) {
        float v = r * loadF32(wp, wt, j) * dyr[j] - c * xr[j];
        dxr[j] = accumulateDx ? dxr[j] + v : v;
      }
    }
  });
  if (dw) {
    float* dwp = dw->ptr<float>();
    parallelFor(D, 16, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) s += double(dyp[n * D + j]) * xp[n * D + j] * rp[n];
        dwp[j] += static_cast<float>(s);
      }
    });
  }
}

}  // namespace plast
