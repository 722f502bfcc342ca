// Device-side random fill (see random.h): splitmix64 of (seed, index), Box-Muller for normals.
#include "cuda/common.cuh"
#include "cuda/random.h"

namespace plast {
namespace cuda {

// ================================ kernels ================================

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

__global__ void fillNormalKernel(void* __restrict__ dst, int dt, int64_t n, uint64_t seed, float mean,
                                 float sd) {
  int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (; i < n; i += stride) {
    uint64_t r = splitmix64(seed * 0x2545f4914f6cdd1dull + static_cast<uint64_t>(i));
    // two 24-bit uniforms in (0, 1] and [0, 1)
    float u1 = (static_cast<float>(r >> 40) + 1.0f) * (1.0f / 16777216.0f);
    float u2 = static_cast<float>((r >> 8) & 0xffffffu) * (1.0f / 16777216.0f);
    float z = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
    stF(dst, dt, i, mean + sd * z);
  }
}

__global__ void fillUniformIntKernel(int32_t* __restrict__ dst, int64_t n, uint64_t seed, int32_t lo,
                                     uint32_t span) {
  int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (; i < n; i += stride) {
    uint64_t r = splitmix64(seed * 0x2545f4914f6cdd1dull + static_cast<uint64_t>(i));
    dst[i] = lo + static_cast<int32_t>(((r >> 32) * span) >> 32);
  }
}

// ================================ launchers ================================

void fillNormal(Tensor& t, uint64_t seed, float mean, float sd) {
  const char* op = "fill_normal";
  PLAST_CHECK(t.defined() && t.backend() && t.backend()->name() == "cuda", Code::Invalid,
              op << ": expected a cuda tensor");
  checkDType(t, {DType::BF16, DType::F16, DType::F32}, op, "t");
  int64_t n = t.numel();
  if (n == 0) return;
  fillNormalKernel<<<gridFor(n, 256), 256>>>(t.data(), static_cast<int>(t.dtype), n, seed, mean, sd);
  checkLaunch(op);
}

void fillUniformInt(Tensor& t, uint64_t seed, int32_t lo, int32_t hi) {
  const char* op = "fill_uniform_int";
  PLAST_CHECK(t.defined() && t.backend() && t.backend()->name() == "cuda", Code::Invalid,
              op << ": expected a cuda tensor");
  checkDType(t, {DType::I32}, op, "t");
  PLAST_CHECK(hi > lo, Code::Invalid, op << ": expected lo < hi but received [" << lo << ", " << hi << ")");
  int64_t n = t.numel();
  if (n == 0) return;
  fillUniformIntKernel<<<gridFor(n, 256), 256>>>(t.ptr<int32_t>(), n, seed, lo,
                                                   static_cast<uint32_t>(hi - lo));
  checkLaunch(op);
  // What ops check indices against (plast/tensor.h): the bounds, without reading the values.
  if (t.offset == 0 && t.nbytes() == t.storage->bytes)
    t.storage->indices = IndexStats{lo, hi - 1, lo, hi - 1, n <= 1};
  else
    t.storage->indices.reset();
}

}  // namespace cuda
}  // namespace plast
