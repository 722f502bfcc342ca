// Elementwise ops: the residual add, dtype casts and GELU.
#include <cmath>
#include <cstring>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"
#include "cpu/float_access.h"

namespace plast {

void CpuBackend::addImpl(const Tensor& a, const Tensor& b, Tensor& out) {
  const float *ap = a.ptr<float>(), *bp = b.ptr<float>();
  float* o = out.ptr<float>();
  parallelFor(a.numel(), 1 << 15, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) o[i] = ap[i] + bp[i];
  });
}

void CpuBackend::castImpl(const Tensor& src, Tensor& dst) {
  if (src.dtype == dst.dtype) {
    if (src.data() != dst.data()) std::memmove(dst.data(), src.data(), src.nbytes());
    return;
  }
  const void* s = src.data();
  void* d = dst.data();
  DType st = src.dtype, dt = dst.dtype;
  parallelFor(src.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) storeF32(d, dt, i, loadF32(s, st, i));
  });
}

// The formulas of torch's nn.GELU (erf and tanh) and HF's QuickGELUActivation, in f32.
void CpuBackend::geluImpl(const Tensor& x, GeluKind kind, Tensor& y) {
  const float* xp = x.ptr<float>();
  float* yp = y.ptr<float>();
  parallelFor(x.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float v = xp[i];
      if (kind == GeluKind::Erf) {
        yp[i] = 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
      } else if (kind == GeluKind::Tanh) {
        float inner = 0.79788456080286536f * (v + 0.044715f * v * v * v);
        yp[i] = 0.5f * v * (1.0f + std::tanh(inner));
      } else {
        yp[i] = v / (1.0f + std::exp(-1.702f * v));
      }
    }
  });
}

}  // namespace plast
