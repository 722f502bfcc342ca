// Rotary position embedding in place (HF rotate_half), angles in f32 as HF computes them.
#include "cuda/common.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

// One thread per (token n, head h, pair i < D/2).
__global__ void ropeKernel(bf16* x, const int32_t* __restrict__ pos, const float* __restrict__ invFreq,
                           float attnScaling, float sgn, int64_t N, int H, int half) {
  int64_t total = N * H * half;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int i = static_cast<int>(t % half);
    int64_t nh = t / half;
    int64_t n = nh / H;
    float ang = static_cast<float>(pos[n]) * invFreq[i];
    float s, c;
    sincosf(ang, &s, &c);
    float cs = c * attnScaling, sn = sgn * s * attnScaling;
    bf16* r = x + nh * (2 * half);
    float a = __bfloat162float(r[i]), b = __bfloat162float(r[i + half]);
    r[i] = __float2bfloat16_rn(a * cs - b * sn);
    r[i + half] = __float2bfloat16_rn(b * cs + a * sn);
  }
}

// ================================ launchers ================================

}  // namespace cuda

using namespace cuda;

void CudaBackend::ropeImpl(Tensor& x, const Tensor& positions, const Tensor& invFreq, float attnScaling,
                       bool inverse) {
  int64_t N = x.dim(0), H = x.dim(1), D = x.dim(2);
  int64_t total = N * H * (D / 2);
  if (total == 0) return;
  ropeKernel<<<gridFor(total, 256), 256>>>(x.ptr<bf16>(), positions.ptr<int32_t>(), invFreq.ptr<float>(),
                                           attnScaling, inverse ? -1.f : 1.f, N, static_cast<int>(H),
                                           static_cast<int>(D / 2));
  checkLaunch("rope");
}

}  // namespace plast
