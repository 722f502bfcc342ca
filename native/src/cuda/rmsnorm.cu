// RMSNorm forward and backward (HF LlamaRMSNorm): one warp per row, statistics in f32.
#include "cuda/common.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

constexpr int kNormWarps = 8;

__device__ __forceinline__ void load8(const bf16* p, float (&v)[8]) {
  uint4 u = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    float2 f = __bfloat1622float2(h[k]);
    v[2 * k] = f.x;
    v[2 * k + 1] = f.y;
  }
}

__device__ __forceinline__ void store8(bf16* p, const float (&v)[8]) {
  uint4 u;
  uint32_t* w = reinterpret_cast<uint32_t*>(&u);
#pragma unroll
  for (int k = 0; k < 4; ++k) w[k] = packBf16(v[2 * k], v[2 * k + 1]);
  *reinterpret_cast<uint4*>(p) = u;
}

template <bool VEC>
__global__ void __launch_bounds__(kNormWarps * 32)
    rmsnormKernel(const bf16* __restrict__ x, const void* __restrict__ w, int wt, float eps,
                  bf16* __restrict__ y, float* __restrict__ rstd, int64_t N, int D) {
  int64_t row = blockIdx.x * static_cast<int64_t>(kNormWarps) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= N) return;
  const bf16* xr = x + row * D;
  bf16* yr = y + row * D;
  float ss = 0.f;
  if (VEC) {
    for (int c = lane * 8; c < D; c += 256) {
      float v[8];
      load8(xr + c, v);
#pragma unroll
      for (int k = 0; k < 8; ++k) ss += v[k] * v[k];
    }
  } else {
    for (int c = lane; c < D; c += 32) {
      float v = __bfloat162float(xr[c]);
      ss += v * v;
    }
  }
  ss = warpSum(ss);
  float r = 1.0f / sqrtf(ss / static_cast<float>(D) + eps);
  if (lane == 0 && rstd) rstd[row] = r;
  if (VEC) {
    for (int c = lane * 8; c < D; c += 256) {
      float v[8];
      load8(xr + c, v);
#pragma unroll
      for (int k = 0; k < 8; ++k) v[k] = ldF(w, wt, c + k) * (v[k] * r);
      store8(yr + c, v);
    }
  } else {
    for (int c = lane; c < D; c += 32)
      yr[c] = __float2bfloat16_rn(ldF(w, wt, c) * (__bfloat162float(xr[c]) * r));
  }
}

// dx = r*w*dy - (sum_j w_j dy_j x_j) r^3/D * x  (= or +=)
__global__ void __launch_bounds__(kNormWarps * 32)
    rmsnormBwdKernel(const bf16* __restrict__ dy, const bf16* __restrict__ x,
                     const void* __restrict__ w, int wt, const float* __restrict__ rstd, bf16* dx,
                     int accumulate, int64_t N, int D) {
  int64_t row = blockIdx.x * static_cast<int64_t>(kNormWarps) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= N) return;
  const bf16* xr = x + row * D;
  const bf16* dr = dy + row * D;
  bf16* o = dx + row * D;
  float dot = 0.f;
  for (int c = lane; c < D; c += 32)
    dot += ldF(w, wt, c) * __bfloat162float(dr[c]) * __bfloat162float(xr[c]);
  dot = warpSum(dot);
  float r = rstd[row];
  float k = dot * r * r * r / static_cast<float>(D);
  for (int c = lane; c < D; c += 32) {
    float v = r * ldF(w, wt, c) * __bfloat162float(dr[c]) - k * __bfloat162float(xr[c]);
    if (accumulate) v += __bfloat162float(o[c]);
    o[c] = __float2bfloat16_rn(v);
  }
}

// dw[j] += sum_n dy[n,j] x[n,j] rstd[n]; blockIdx.y splits the rows
__global__ void rmsnormDwKernel(const bf16* __restrict__ dy, const bf16* __restrict__ x,
                                const float* __restrict__ rstd, float* dw, int64_t N, int D,
                                int64_t rowsPer) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= D) return;
  int64_t n0 = blockIdx.y * rowsPer, n1 = min(N, n0 + rowsPer);
  float s = 0.f;
  for (int64_t n = n0; n < n1; ++n)
    s += __bfloat162float(dy[n * D + c]) * __bfloat162float(x[n * D + c]) * rstd[n];
  if (n1 > n0) atomicAdd(dw + c, s);
}

// ================================ launchers ================================

}  // namespace cuda

using namespace cuda;

void CudaBackend::rmsnormImpl(const Tensor& x, const Tensor& w, float eps, Tensor& y, Tensor* rstd) {
  int64_t N = x.dim(0), D = x.dim(1);
  if (N == 0 || D == 0) return;
  bool vec = D % 8 == 0 && (reinterpret_cast<uintptr_t>(x.data()) & 15) == 0 &&
             (reinterpret_cast<uintptr_t>(y.data()) & 15) == 0;
  int grid = static_cast<int>(ceilDiv(N, kNormWarps));
  float* rp = rstd ? rstd->ptr<float>() : nullptr;
  if (vec)
    rmsnormKernel<true><<<grid, kNormWarps * 32>>>(x.ptr<bf16>(), w.data(), static_cast<int>(w.dtype),
                                                   eps, y.ptr<bf16>(), rp, N, static_cast<int>(D));
  else
    rmsnormKernel<false><<<grid, kNormWarps * 32>>>(x.ptr<bf16>(), w.data(), static_cast<int>(w.dtype),
                                                    eps, y.ptr<bf16>(), rp, N, static_cast<int>(D));
  checkLaunch("rmsnorm");
}

void CudaBackend::rmsnormBackwardImpl(const Tensor& dy, const Tensor& x, const Tensor& w,
                                  const Tensor& rstd, Tensor& dx, bool accumulateDx, Tensor* dw) {
  int64_t N = x.dim(0), D = x.dim(1);
  if (N == 0 || D == 0) return;
  // dw first: dx may be written in place of nothing it reads, but keep the order obvious.
  if (dw) {
    int64_t rowsPer = std::max<int64_t>(64, ceilDiv(N, 256));
    dim3 grid(static_cast<unsigned>(ceilDiv(D, 256)), static_cast<unsigned>(ceilDiv(N, rowsPer)));
    rmsnormDwKernel<<<grid, 256>>>(dy.ptr<bf16>(), x.ptr<bf16>(), rstd.ptr<float>(), dw->ptr<float>(),
                                   N, static_cast<int>(D), rowsPer);
    checkLaunch("rmsnorm_backward(dw)");
  }
  rmsnormBwdKernel<<<static_cast<int>(ceilDiv(N, kNormWarps)), kNormWarps * 32>>>(
      dy.ptr<bf16>(), x.ptr<bf16>(), w.data(), static_cast<int>(w.dtype), rstd.ptr<float>(),
      dx.ptr<bf16>(), accumulateDx ? 1 : 0, N, static_cast<int>(D));
  checkLaunch("rmsnorm_backward");
}

}  // namespace plast
