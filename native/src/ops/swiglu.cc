// Checks of the SwiGLU activation with gate-positivity counting, its backward, and the fused
// FFN up-projection (kernels: cpu/ and cuda/swiglu).
#include "common/checks.h"

namespace plast {
namespace {

void checkCounts(const OpArgs& a, const Tensor* countMask, const Tensor* counts, int64_t N,
                 int64_t I) {
  PLAST_CHECK((countMask == nullptr) == (counts == nullptr), Code::Invalid,
              a.name() << ": countMask and counts must be given together");
  if (!counts) return;
  a.i32(*countMask, "countMask", {N});
  a.i64(*counts, "counts", {I});
}

}  // namespace

void Backend::swiglu(const Tensor& g, const Tensor& u, const Tensor* countMask, Tensor* counts,
                     Tensor& h) {
  OpArgs a(this, Op::Swiglu);
  a.act(g, "g", Rank{2});
  a.act(u, "u", g.shape);
  a.act(h, "h", g.shape);
  checkCounts(a, countMask, counts, g.dim(0), g.dim(1));
  swigluImpl(g, u, countMask, counts, h);
}

void Backend::swigluBackward(const Tensor& dh, const Tensor& g, const Tensor& u, Tensor& dg,
                             Tensor& du) {
  OpArgs a(this, Op::SwigluBackward);
  a.act(g, "g", Rank{2});
  a.act(dh, "dh", g.shape);
  a.act(u, "u", g.shape);
  a.act(dg, "dg", g.shape);
  a.act(du, "du", g.shape);
  swigluBackwardImpl(dh, g, u, dg, du);
}

void Backend::ffnUp(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor* countMask,
                    Tensor* counts, Tensor& h, Tensor* gOut, Tensor* uOut) {
  OpArgs a(this, Op::FfnUp);
  a.act(x, "x", Rank{2});
  a.weight(wg, "wg", Rank{2});
  int64_t N = x.dim(0), K = x.dim(1), I = wg.dim(0);
  PLAST_CHECK(wg.dim(1) == K, Code::Shape,
              "ffn_up: x is " << shapeStr(x.shape) << " but wg is " << shapeStr(wg.shape));
  a.weight(wu, "wu", wg.shape);
  a.act(h, "h", {N, I});
  if (gOut) a.act(*gOut, "gOut", {N, I});
  if (uOut) a.act(*uOut, "uOut", {N, I});
  checkCounts(a, countMask, counts, N, I);
  ffnUpImpl(x, wg, wu, countMask, counts, h, gOut, uOut);
}

}  // namespace plast
