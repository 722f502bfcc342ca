// Checks of the linear layer and its two backward GEMMs (kernels: cpu/ and cuda/gemm).
#include "common/checks.h"

namespace plast {

void Backend::linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  OpArgs a(this, Op::Linear);
  a.act(x, "x", Rank{2});
  a.weight(w, "w", Rank{2});
  int64_t N = x.dim(0), K = x.dim(1), M = w.dim(0);
  PLAST_CHECK(w.dim(1) == K, Code::Shape,
              "linear: x is " << shapeStr(x.shape) << " but w is " << shapeStr(w.shape)
                              << " (inner dimensions must match)");
  a.act(y, "y", {N, M});
  if (bias) a.anyFloat(*bias, "bias", {M});
  linearImpl(x, w, bias, y);
}

void Backend::linearBackwardInput(const Tensor& dy, const Tensor& w, Tensor& dx,
                                  bool accumulate) {
  OpArgs a(this, Op::LinearBackwardInput);
  a.act(dy, "dy", Rank{2});
  a.weight(w, "w", Rank{2});
  int64_t N = dy.dim(0), M = dy.dim(1), K = w.dim(1);
  PLAST_CHECK(w.dim(0) == M, Code::Shape,
              a.name() << ": dy is " << shapeStr(dy.shape) << " but w is " << shapeStr(w.shape));
  a.act(dx, "dx", {N, K});
  linearBackwardInputImpl(dy, w, dx, accumulate);
}

void Backend::linearBackwardWeight(const Tensor& dy, const Tensor& x, Tensor& dw,
                                   Tensor* dbias) {
  OpArgs a(this, Op::LinearBackwardWeight);
  a.act(dy, "dy", Rank{2});
  a.act(x, "x", Rank{2});
  int64_t N = dy.dim(0), M = dy.dim(1), K = x.dim(1);
  PLAST_CHECK(x.dim(0) == N, Code::Shape,
              a.name() << ": dy is " << shapeStr(dy.shape) << " but x is " << shapeStr(x.shape));
  a.f32(dw, "dw", {M, K});
  if (dbias) a.f32(*dbias, "dbias", {M});
  linearBackwardWeightImpl(dy, x, dw, dbias);
}

}  // namespace plast
