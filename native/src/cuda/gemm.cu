// Linear layers on tensor cores (the GEMM itself is in gemm.cuh):
//   linear:               y[N,M]  = x[N,K] . w[M,K]^T (+ bias)   A K-major,  B K-major
//   linearBackwardInput:  dx[N,K] (=|+=) dy[N,M] . w[M,K]        A K-major,  B MN-major
//   linearBackwardWeight: dw[M,K] += dy^T . x  (f32)             A MN-major, B MN-major
#include "cuda/gemm.cuh"
#ifdef PLAST_WITH_SM90A
#include "cuda/sm90/gemm_sm90.h"
#endif

namespace plast {
namespace cuda {

// ================================ kernels ================================

// out[c] += sum_n x[n, c] (f32); blockIdx.y splits the rows
__global__ void colSumAddKernel(const bf16* __restrict__ x, int64_t N, int64_t M, float* out,
                                int64_t rowsPer) {
  int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= M) return;
  int64_t n0 = blockIdx.y * rowsPer, n1 = min(N, n0 + rowsPer);
  float s = 0.f;
  for (int64_t n = n0; n < n1; ++n) s += __bfloat162float(x[n * M + c]);
  if (n1 > n0) atomicAdd(out + c, s);
}

// ================================ launchers ================================

using Cfg256 = TileCfg<128, 256, 32, 2, 4, 4, 1>;
using Cfg128 = TileCfg<128, 128, 32, 2, 4, 4, 1>;
using Cfg64 = TileCfg<64, 64, 32, 2, 2, 3, 1>;

namespace {

bool al16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Picks the tile for a problem: the largest tile that still gives every SM a CTA.
int pickTile(const GemmParams& p) {
  int v = variantIndex("gemm");  // 0 auto, 1 tc128x256s4, 2 tc128x128s4, 3 tc64x64s3, 4/5 wgmma (linear only)
  if (v >= 1 && v <= 3) return v;
  int sms = deviceInfo().sms;
  if (ceilDiv(p.M, 128) * ceilDiv(p.N, 256) >= sms) return 1;
  if (ceilDiv(p.M, 128) * ceilDiv(p.N, 128) >= sms) return 2;
  return 3;
}

template <bool AK, bool BKM, Epi E>
void dispatch(const GemmParams& p, const char* name) {
  bool aligned = p.lda % 8 == 0 && p.ldb % 8 == 0 && al16(p.A) && al16(p.B0);
  if (!aligned) return launchGemm<Cfg64, AK, BKM, false, E>(p, name);
  switch (pickTile(p)) {
    case 1: return launchGemm<Cfg256, AK, BKM, true, E>(p, name);
    case 2: return launchGemm<Cfg128, AK, BKM, true, E>(p, name);
    default: return launchGemm<Cfg64, AK, BKM, true, E>(p, name);
  }
}

void checkDims(int64_t a, int64_t b, int64_t c, const char* op) {
  PLAST_CHECK(a < (1ll << 31) && b < (1ll << 31) && c < (1ll << 31), Code::Shape,
              op << ": dimensions must be below 2^31");
}

}  // namespace

void colSumAdd(const bf16* x, int64_t N, int64_t M, float* out) {
  if (N == 0 || M == 0) return;
  int64_t rowsPer = std::max<int64_t>(64, ceilDiv(N, 256));
  dim3 grid(static_cast<unsigned>(ceilDiv(M, 256)), static_cast<unsigned>(ceilDiv(N, rowsPer)));
  colSumAddKernel<<<grid, 256>>>(x, N, M, out, rowsPer);
  checkLaunch("column sum");
}

}  // namespace cuda

using namespace cuda;

void CudaBackend::linearImpl(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  const char* op = "linear";
  int64_t N = x.dim(0), K = x.dim(1), M = w.dim(0);
  checkDims(N, M, K, op);
  Tensor biasF;
  if (bias) {
    biasF = *bias;
    if (bias->dtype != DType::F32) {
      biasF = empty({M}, DType::F32);
      cast(*bias, biasF);
    }
  }
  GemmParams p{};
  p.A = x.ptr<bf16>();
  p.lda = K;
  p.B0 = w.ptr<bf16>();
  p.ldb = K;
  p.M = static_cast<int>(N);
  p.N = static_cast<int>(M);
  p.K = static_cast<int>(K);
  p.C = y.data();
  p.ldc = M;
  p.bias = bias ? biasF.ptr<float>() : nullptr;
#ifdef PLAST_WITH_SM90A
  // Hopper: warpgroup MMA when chosen, or by default when the problem fills the GPU.
  int v = variantIndex("gemm");  // 4 wgmma128x256, 5 wgmma128x128
  if ((v == 4 || (v == 0 && ceilDiv(N, 128) * ceilDiv(M, 256) * 2 >= deviceInfo().sms)) && wgmmaLinear(p, op, false))
    return;
  if (v == 5 && wgmmaLinear(p, op, true)) return;
#endif
  dispatch<true, true, Epi::Bf16>(p, op);
}

void CudaBackend::linearBackwardInputImpl(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate) {
  const char* op = "linear_backward_input";
  int64_t N = dy.dim(0), M = dy.dim(1), K = w.dim(1);
  checkDims(N, M, K, op);
  GemmParams p{};
  p.A = dy.ptr<bf16>();
  p.lda = M;
  p.B0 = w.ptr<bf16>();
  p.ldb = K;
  p.M = static_cast<int>(N);
  p.N = static_cast<int>(K);
  p.K = static_cast<int>(M);
  p.C = dx.data();
  p.ldc = K;
  p.accumulate = accumulate ? 1 : 0;
  dispatch<true, false, Epi::Bf16>(p, op);
}

void CudaBackend::linearBackwardWeightImpl(const Tensor& dy, const Tensor& x, Tensor& dw, Tensor* dbias) {
  const char* op = "linear_backward_weight";
  int64_t N = dy.dim(0), M = dy.dim(1), K = x.dim(1);
  checkDims(N, M, K, op);
  GemmParams p{};
  p.A = dy.ptr<bf16>();
  p.lda = M;
  p.B0 = x.ptr<bf16>();
  p.ldb = K;
  p.M = static_cast<int>(M);
  p.N = static_cast<int>(K);
  p.K = static_cast<int>(N);
  p.C = dw.data();
  p.ldc = K;
  dispatch<false, false, Epi::F32Acc>(p, op);
  if (dbias) colSumAdd(dy.ptr<bf16>(), N, M, dbias->ptr<float>());
}

}  // namespace plast
