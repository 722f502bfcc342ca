// Checks of attention forward and backward (kernels: cpu/ and cuda/attention).
#include "common/checks.h"

namespace plast {
namespace {

// q[B,T,Hq,D], k/v[B,T,Hkv,D] with Hq % Hkv == 0, keyMask[B,T]; returns {B, T, Hq}.
Shape checkQkv(const OpArgs& a, const Tensor& q, const Tensor& k, const Tensor& v,
               const Tensor& keyMask) {
  a.act(q, "q", Rank{4});
  a.act(k, "k", Rank{4});
  int64_t B = q.dim(0), T = q.dim(1), Hq = q.dim(2), D = q.dim(3), Hkv = k.dim(2);
  a.act(k, "k", {B, T, Hkv, D});
  a.act(v, "v", {B, T, Hkv, D});
  PLAST_CHECK(Hkv > 0 && Hq % Hkv == 0, Code::Shape,
              a.name() << ": query heads (" << Hq << ") must be a multiple of key/value heads ("
                       << Hkv << ")");
  a.i32(keyMask, "keyMask", {B, T});
  return {B, Hq, T};
}

void checkMask(const OpArgs& a, const AttnMask& mask) {
  PLAST_CHECK(mask.causal || mask.window <= 0, Code::Invalid,
              a.name() << ": a sliding window (" << mask.window << ") needs a causal mask");
}

}  // namespace

void Backend::attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& keyMask,
                        float scale, AttnMask mask, Tensor& out, Tensor* lse) {
  OpArgs a(this, Op::Attention);
  Shape lseShape = checkQkv(a, q, k, v, keyMask);
  a.act(out, "out", q.shape);
  if (lse) a.f32(*lse, "lse", lseShape);
  checkMask(a, mask);
  attentionImpl(q, k, v, keyMask, scale, mask, out, lse);
}

void Backend::attentionBackward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                const Tensor& v, const Tensor& keyMask, const Tensor& out,
                                const Tensor& lse, float scale, AttnMask mask, Tensor& dq,
                                Tensor& dk, Tensor& dv) {
  OpArgs a(this, Op::AttentionBackward);
  Shape lseShape = checkQkv(a, q, k, v, keyMask);
  a.act(dout, "dout", q.shape);
  a.act(out, "out", q.shape);
  a.f32(lse, "lse", lseShape);
  a.act(dq, "dq", q.shape);
  a.act(dk, "dk", k.shape);
  a.act(dv, "dv", v.shape);
  checkMask(a, mask);
  attentionBackwardImpl(dout, q, k, v, keyMask, out, lse, scale, mask, dq, dk, dv);
}

}  // namespace plast
