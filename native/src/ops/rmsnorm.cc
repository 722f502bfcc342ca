// Checks of RMSNorm forward and backward (kernels: cpu/ and cuda/rmsnorm).
#include "common/checks.h"

namespace plast {

void Backend::rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& y, Tensor* rstd) {
  OpArgs a(this, Op::RmsNorm);
  a.act(x, "x", Rank{2});
  int64_t N = x.dim(0), D = x.dim(1);
  a.weight(w, "w", {D});
  a.act(y, "y", {N, D});
  if (rstd) a.f32(*rstd, "rstd", {N});
  rmsnormImpl(x, w, eps, y, rstd);
}

void Backend::rmsnormBackward(const Tensor& dy, const Tensor& x, const Tensor& w,
                              const Tensor& rstd, Tensor& dx, bool accumulateDx, Tensor* dw) {
  OpArgs a(this, Op::RmsNormBackward);
  a.act(x, "x", Rank{2});
  int64_t N = x.dim(0), D = x.dim(1);
  a.act(dy, "dy", {N, D});
  a.weight(w, "w", {D});
  a.f32(rstd, "rstd", {N});
  a.act(dx, "dx", {N, D});
  if (dw) a.f32(*dw, "dw", {D});
  rmsnormBackwardImpl(dy, x, w, rstd, dx, accumulateDx, dw);
}

}  // namespace plast
