// Elementwise ops: dtype casts and the residual add, on the generic kernels of elementwise.cuh
// (plus a 16-byte vectorised add for the bf16 residual stream, the one that is on the hot path).
#include "cuda/elementwise.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

// bf16, 8 elements per thread (16-byte loads)
__global__ void addBf16x8(const uint4* __restrict__ a, const uint4* __restrict__ b, uint4* out,
                          int64_t n8) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n8;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint4 x = a[i], y = b[i], r;
    const __nv_bfloat162* xp = reinterpret_cast<const __nv_bfloat162*>(&x);
    const __nv_bfloat162* yp = reinterpret_cast<const __nv_bfloat162*>(&y);
    __nv_bfloat162* rp = reinterpret_cast<__nv_bfloat162*>(&r);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      float2 fx = __bfloat1622float2(xp[k]), fy = __bfloat1622float2(yp[k]);
      rp[k] = __floats2bfloat162_rn(fx.x + fy.x, fx.y + fy.y);
    }
    out[i] = r;
  }
}

// ================================ launchers ================================

void castDevice(const void* src, DType st, void* dst, DType dt, int64_t n) {
  launchUnary(src, st, dst, dt, n, Identity{}, "cast");
}

}  // namespace cuda

using namespace cuda;

void CudaBackend::castImpl(const Tensor& src, Tensor& dst) {
  if (src.dtype == dst.dtype) {
    if (src.data() != dst.data() && src.nbytes())
      PLAST_CUDA(cudaMemcpyAsync(dst.data(), src.data(), src.nbytes(), cudaMemcpyDeviceToDevice));
    return;
  }
  castDevice(src.data(), src.dtype, dst.data(), dst.dtype, src.numel());
}

void CudaBackend::addImpl(const Tensor& a, const Tensor& b, Tensor& out) {
  int64_t n = a.numel();
  if (n == 0) return;
  if (a.dtype == DType::BF16 && n % 8 == 0 && aligned16(a.data()) && aligned16(b.data()) &&
      aligned16(out.data())) {
    addBf16x8<<<gridFor(n / 8, 256), 256>>>(static_cast<const uint4*>(a.data()),
                                            static_cast<const uint4*>(b.data()),
                                            static_cast<uint4*>(out.data()), n / 8);
    checkLaunch("add");
    return;
  }
  launchBinary(a.data(), a.dtype, b.data(), b.dtype, out.data(), out.dtype, n, Plus{}, "add");
}

}  // namespace plast
