// SwiGLU with the PLAST count, its backward, and the fused FFN up-projection: ONE tensor-core
// kernel computes the gate and up tiles of the same tokens x neurons block, and its epilogue
// writes h = silu(g) * u (bf16; g and u too when asked) and counts g > 0 per neuron over the
// token mask from the very bf16 gate values it writes (see gemm.cuh, Epi::Swiglu).
#include "cuda/gemm.cuh"
#ifdef PLAST_WITH_SM90A
#include "cuda/sm90/gemm_sm90.h"
#endif

namespace plast {
namespace cuda {

// ================================ kernels ================================

// One thread per column j over a slice of rows: h = silu(g) u, counts[j] += #(mask && g > 0).
__global__ void swigluKernel(const bf16* __restrict__ g, const bf16* __restrict__ u,
                             const int32_t* __restrict__ mask, unsigned long long* counts,
                             bf16* __restrict__ h, int64_t N, int64_t I, int64_t rowsPer) {
  int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j >= I) return;
  int64_t n0 = blockIdx.y * rowsPer, n1 = min(N, n0 + rowsPer);
  unsigned long long c = 0;
  for (int64_t n = n0; n < n1; ++n) {
    float gv = __bfloat162float(g[n * I + j]), uv = __bfloat162float(u[n * I + j]);
    h[n * I + j] = __float2bfloat16_rn(gv / (1.0f + expf(-gv)) * uv);
    if (counts && mask[n] != 0 && gv > 0.f) ++c;
  }
  if (counts && c) atomicAdd(counts + j, c);
}

__global__ void swigluBwdKernel(const bf16* __restrict__ dh, const bf16* __restrict__ g,
                                const bf16* __restrict__ u, bf16* __restrict__ dg,
                                bf16* __restrict__ du, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float x = __bfloat162float(g[i]), d = __bfloat162float(dh[i]), uv = __bfloat162float(u[i]);
    float s = 1.0f / (1.0f + expf(-x));
    du[i] = __float2bfloat16_rn(d * (x * s));
    dg[i] = __float2bfloat16_rn(d * uv * (s + x * s * (1.0f - s)));
  }
}

// ================================ launchers ================================

using FfnCfg4 = TileCfg<128, 128, 32, 2, 4, 4, 2>;
using FfnCfg3 = TileCfg<128, 128, 32, 2, 4, 3, 2>;
using FfnCfgSmall = TileCfg<64, 64, 32, 2, 2, 3, 2>;

}  // namespace cuda

using namespace cuda;


void CudaBackend::swigluImpl(const Tensor& g, const Tensor& u, const Tensor* countMask, Tensor* counts,
                         Tensor& h) {
  int64_t N = g.dim(0), I = g.dim(1);
  if (N == 0 || I == 0) return;
  int64_t rowsPer = std::max<int64_t>(32, ceilDiv(N, 1024));
  dim3 grid(static_cast<unsigned>(ceilDiv(I, 128)), static_cast<unsigned>(ceilDiv(N, rowsPer)));
  swigluKernel<<<grid, 128>>>(g.ptr<bf16>(), u.ptr<bf16>(), counts ? countMask->ptr<int32_t>() : nullptr,
                              counts ? counts->ptr<unsigned long long>() : nullptr, h.ptr<bf16>(), N, I,
                              rowsPer);
  checkLaunch("swiglu");
}

void CudaBackend::swigluBackwardImpl(const Tensor& dh, const Tensor& g, const Tensor& u, Tensor& dg,
                                 Tensor& du) {
  int64_t n = g.numel();
  if (n == 0) return;
  swigluBwdKernel<<<gridFor(n, 256), 256>>>(dh.ptr<bf16>(), g.ptr<bf16>(), u.ptr<bf16>(), dg.ptr<bf16>(),
                                            du.ptr<bf16>(), n);
  checkLaunch("swiglu_backward");
}

void CudaBackend::ffnUpImpl(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor* countMask,
                        Tensor* counts, Tensor& h, Tensor* gOut, Tensor* uOut) {
  const char* op = "ffn_up";
  int64_t N = x.dim(0), K = x.dim(1), I = wg.dim(0);
  PLAST_CHECK(N < (1ll << 31) && K < (1ll << 31) && I < (1ll << 31), Code::Shape,
              op << ": dimensions must be below 2^31");
  int v = variantIndex("ffn_up");  // 0 auto, 1 fused s4, 2 fused s3, 3 unfused, 4 wgmma 128x128x2, 5 wgmma 128x64x2
  if (v == 3) return Backend::ffnUpImpl(x, wg, wu, countMask, counts, h, gOut, uOut);
  GemmParams p{};
  p.A = x.ptr<bf16>();
  p.lda = K;
  p.B0 = wg.ptr<bf16>();
  p.B1 = wu.ptr<bf16>();
  p.ldb = K;
  p.M = static_cast<int>(N);
  p.N = static_cast<int>(I);
  p.K = static_cast<int>(K);
  p.C = h.data();
  p.ldc = I;
  p.G = gOut ? gOut->ptr<bf16>() : nullptr;
  p.U = uOut ? uOut->ptr<bf16>() : nullptr;
  p.mask = counts ? countMask->ptr<int32_t>() : nullptr;
  p.counts = counts ? counts->ptr<unsigned long long>() : nullptr;
  auto al = [](const void* q) { return (reinterpret_cast<uintptr_t>(q) & 15) == 0; };
  bool aligned = K % 8 == 0 && al(p.A) && al(p.B0) && al(p.B1);
  if (!aligned) return launchGemm<FfnCfgSmall, true, true, false, Epi::Swiglu>(p, op);
#ifdef PLAST_WITH_SM90A
  if ((v == 4 || (v == 0 && ceilDiv(N, 128) * ceilDiv(I, 128) * 2 >= deviceInfo().sms)) && wgmmaFfnUp(p, op, false))
    return;
  if (v == 5 && wgmmaFfnUp(p, op, true)) return;
#endif
  if (v == 0 && ceilDiv(N, 128) * ceilDiv(I, 128) < deviceInfo().sms)
    return launchGemm<FfnCfgSmall, true, true, true, Epi::Swiglu>(p, op);
  if (v == 2) return launchGemm<FfnCfg3, true, true, true, Epi::Swiglu>(p, op);
  launchGemm<FfnCfg4, true, true, true, Epi::Swiglu>(p, op);
}

}  // namespace plast
