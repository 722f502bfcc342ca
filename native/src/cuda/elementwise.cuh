// Generic elementwise kernels (after ggml's unary_op_kernel<op>): one functor per op, float
// tensors of any dtype in and out, grid-stride loops, f32 math. A simple op is a functor and a
// launch, not a kernel of its own (cast and add here; GELU and friends the same way).
#pragma once
#include "cuda/common.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

template <typename F>
__global__ void unaryKernel(const void* __restrict__ x, int xt, void* __restrict__ y, int yt,
                            int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    stF(y, yt, i, f(ldF(x, xt, i)));
}

// out may alias a or b: each element is read before it is written, by the same thread.
template <typename F>
__global__ void binaryKernel(const void* a, int at, const void* b, int bt, void* out, int ot,
                             int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    stF(out, ot, i, f(ldF(a, at, i), ldF(b, bt, i)));
}

// ================================ functors ================================

struct Identity {
  __device__ float operator()(float x) const { return x; }
};
struct Plus {
  __device__ float operator()(float a, float b) const { return a + b; }
};

// ================================ launchers ================================

template <typename F>
void launchUnary(const void* x, DType xt, void* y, DType yt, int64_t n, F f, const char* name) {
  if (n == 0) return;
  unaryKernel<<<gridFor(n, 256), 256>>>(x, static_cast<int>(xt), y, static_cast<int>(yt), n, f);
  checkLaunch(name);
}

template <typename F>
void launchBinary(const void* a, DType at, const void* b, DType bt, void* out, DType ot, int64_t n,
                  F f, const char* name) {
  if (n == 0) return;
  binaryKernel<<<gridFor(n, 256), 256>>>(a, static_cast<int>(at), b, static_cast<int>(bt), out,
                                         static_cast<int>(ot), n, f);
  checkLaunch(name);
}

}  // namespace cuda
}  // namespace plast
