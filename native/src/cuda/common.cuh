// Shared device-side pieces of the CUDA backend: error helpers (every CUDA runtime failure becomes
// a plast::Error with Code::Device naming the call), launch helpers, and the small PTX wrappers
// the tensor-core kernels use (cp.async, ldmatrix, mma.sync). The backend class is in
// cuda/cuda_backend.h.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/checks.h"
#include "cuda/cuda_backend.h"

namespace plast {
namespace cuda {

using bf16 = __nv_bfloat16;

[[noreturn]] void throwCuda(cudaError_t e, const char* call, const char* file, int line);
// After a kernel launch: a launch failure (bad configuration, no kernel image, a sticky error
// from an earlier kernel) becomes Code::Device. With PLAST_CUDA_SYNC=1 every launch is also
// synchronised so asynchronous faults are reported by the op that caused them.
void checkLaunch(const char* kernel);

#define PLAST_CUDA(call)                                                             \
  do {                                                                               \
    cudaError_t plast_e_ = (call);                                                   \
    if (plast_e_ != cudaSuccess) ::plast::cuda::throwCuda(plast_e_, #call, __FILE__, __LINE__); \
  } while (0)

struct DeviceInfo {
  int device = 0;
  int sms = 0;
  int major = 0, minor = 0;
  size_t smemOptin = 0;
  std::string name;
  size_t totalMem = 0;
};
const DeviceInfo& deviceInfo();

// Raises a kernel's dynamic shared memory limit once (needed above 48 KB).
template <typename K>
void ensureSmem(K kernel, int bytes) {
  if (bytes > 48 * 1024)
    PLAST_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Grid size for a grid-stride elementwise kernel over n items.
inline int gridFor(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<int>(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }
// dst[i] = src[i] converted between float dtypes, on the device (cuda/elementwise.cu).
void castDevice(const void* src, DType st, void* dst, DType dt, int64_t n);

// ---- device helpers -------------------------------------------------------------------------

enum : int { kBF16 = 0, kF16 = 1, kF32 = 2 };  // == static_cast<int>(DType) for float types

__device__ __forceinline__ float ldF(const void* p, int dt, int64_t i) {
  if (dt == kBF16) return __bfloat162float(static_cast<const bf16*>(p)[i]);
  if (dt == kF16) return __half2float(static_cast<const __half*>(p)[i]);
  return static_cast<const float*>(p)[i];
}
__device__ __forceinline__ void stF(void* p, int dt, int64_t i, float v) {
  if (dt == kBF16)
    static_cast<bf16*>(p)[i] = __float2bfloat16_rn(v);
  else if (dt == kF16)
    static_cast<__half*>(p)[i] = __float2half_rn(v);
  else
    static_cast<float*>(p)[i] = v;
}

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ uint32_t smemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// 16-byte async copy global -> shared; bytes beyond srcBytes (0..16) are zero-filled.
__device__ __forceinline__ void cpAsync16(uint32_t dst, const void* src, int srcBytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(srcBytes));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ __forceinline__ void ldsm4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm4t(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// c[16x8] += a[16x16] * b[16x8], bf16 inputs, f32 accumulators.
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ uint32_t packBf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// A shared-memory tile of ROWS x COLS bf16 (row-major), its 16-byte chunks XOR-swizzled so that
// ldmatrix over 8 consecutive rows and cp.async stores are free of bank conflicts.
template <int ROWS, int COLS>
struct Swz {
  static_assert(COLS % 8 == 0, "tile rows must be whole 16-byte chunks");
  static constexpr int CH = COLS / 8;
  __device__ __forceinline__ static int chunk(int r, int c) {
    if constexpr (CH >= 8)
      return c ^ (r & 7);
    else if constexpr (CH == 4)
      return c ^ ((r >> 1) & 3);
    else if constexpr (CH == 2)
      return c ^ ((r >> 2) & 1);
    else
      return c;
  }
  // element offset of (row r, chunk c)
  __device__ __forceinline__ static int off(int r, int c) { return r * COLS + chunk(r, c) * 8; }
};

}  // namespace cuda

// Kernel-variant selection (see cuda/variants.h).
namespace cuda {
int variantIndex(const char* op);  // 0 = auto, else 1-based index into that op's list
}

}  // namespace plast
