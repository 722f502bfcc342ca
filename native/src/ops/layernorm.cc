// Checks of LayerNorm (kernels: cpu/layernorm; the CLIP vision tower's norm).
#include "common/checks.h"

namespace plast {

void Backend::layernorm(const Tensor& x, const Tensor& w, const Tensor* b, float eps, Tensor& y) {
  OpArgs a(this, Op::LayerNorm);
  a.act(x, "x", Rank{2});
  int64_t N = x.dim(0), D = x.dim(1);
  a.weight(w, "w", {D});
  if (b) a.weight(*b, "b", {D});
  a.act(y, "y", {N, D});
  PLAST_CHECK(eps >= 0.f, Code::Invalid, "layernorm: eps must be >= 0 but is " << eps);
  layernormImpl(x, w, b, eps, y);
}

}  // namespace plast
