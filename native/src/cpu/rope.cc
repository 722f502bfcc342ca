// Rotary position embedding, HF rotate_half convention: for i < D/2,
//   y_i = x_i cos - x_{i+D/2} sin,  y_{i+D/2} = x_{i+D/2} cos + x_i sin,
// with angle = position * invFreq[i] in f32 (as HF computes it) and cos/sin scaled by attnScaling.
#include <cmath>
#include <vector>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"

namespace plast {

void CpuBackend::ropeImpl(Tensor& x, const Tensor& positions, const Tensor& invFreq,
                      float attnScaling, bool inverse) {
  int64_t N = x.dim(0), H = x.dim(1), D = x.dim(2);
  float* xp = x.ptr<float>();
  const int32_t* pos = positions.ptr<int32_t>();
  const float* f = invFreq.ptr<float>();
  int64_t half = D / 2;
  float sgn = inverse ? -1.f : 1.f;
  parallelFor(N, 8, [&](int64_t b, int64_t e) {
    std::vector<float> cs(half), sn(half);
    for (int64_t n = b; n < e; ++n) {
      for (int64_t i = 0; i < half; ++i) {
        float ang = static_cast<float>(pos[n]) * f[i];
        cs[i] = std::cos(ang) * attnScaling;
        sn[i] = sgn * std::sin(ang) * attnScaling;
      }
      for (int64_t h = 0; h < H; ++h) {
        float* r = xp + (n * H + h) * D;
        for (int64_t i = 0; i < half; ++i) {
          float a = r[i], c = r[i + half];
          r[i] = a * cs[i] - c * sn[i];
          r[i + half] = c * cs[i] + a * sn[i];
        }
      }
    }
  });
}

}  // namespace plast
