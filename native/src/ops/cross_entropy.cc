// Checks of the per-row cross-entropy (kernels: cpu/ and cuda/cross_entropy).
#include "common/checks.h"

namespace plast {

void Backend::crossEntropy(const Tensor& logits, const Tensor& labels, float gradScale,
                           Tensor& losses, Tensor* dlogits) {
  OpArgs a(this, Op::CrossEntropy);
  a.act(logits, "logits", Rank{2});
  int64_t P = logits.dim(0), V = logits.dim(1);
  a.i32(labels, "labels", {P});
  a.f32(losses, "losses", {P});
  if (dlogits) a.act(*dlogits, "dlogits", logits.shape);
  int32_t bad = 0;
  int64_t at = a.firstOutside(labels, 0, V, true, &bad);
  PLAST_CHECK(at < 0, Code::Invalid,
              "cross_entropy: label " << bad << " at row " << at << " is neither " << kIgnoreIndex
                                      << " nor in [0, " << V << ")");
  crossEntropyImpl(logits, labels, gradScale, losses, dlogits);
}

}  // namespace plast
