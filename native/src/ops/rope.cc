// Checks of rotary position embeddings (kernels: cpu/ and cuda/rope).
#include "common/checks.h"

namespace plast {

void Backend::rope(Tensor& x, const Tensor& positions, const Tensor& invFreq, float attnScaling,
                   bool inverse) {
  OpArgs a(this, Op::Rope);
  a.act(x, "x", Rank{3});
  int64_t N = x.dim(0), D = x.dim(2);
  PLAST_CHECK(D % 2 == 0, Code::Shape, "rope: head dim must be even but is " << D);
  a.i32(positions, "positions", {N});
  a.f32(invFreq, "invFreq", {D / 2});
  ropeImpl(x, positions, invFreq, attnScaling, inverse);
}

}  // namespace plast
