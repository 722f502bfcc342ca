// Cross-entropy per row with an ignore index (-100), and its gradient w.r.t. the logits.
#include "cuda/common.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

constexpr int kCeThreads = 512;

__device__ __forceinline__ float blockReduce(float v, bool isMax, float* red) {
  v = isMax ? warpMax(v) : warpSum(v);
  int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // red may still be read from the previous reduction
  if (lane == 0) red[w] = v;
  __syncthreads();
  float r = isMax ? -INFINITY : 0.f;
  for (int i = 0; i < kCeThreads / 32; ++i) r = isMax ? fmaxf(r, red[i]) : r + red[i];
  return r;
}

// One block per row: max, sum of exponentials, loss, then the gradient in one more pass.
__global__ void __launch_bounds__(kCeThreads)
    crossEntropyKernel(const bf16* __restrict__ logits, const int32_t* __restrict__ labels,
                       float gradScale, float* __restrict__ losses, bf16* __restrict__ dlogits,
                       int64_t V) {
  __shared__ float red[kCeThreads / 32];
  int64_t p = blockIdx.x;
  const bf16* x = logits + p * V;
  int label = labels[p];
  if (label == -100) {
    if (threadIdx.x == 0) losses[p] = 0.f;
    if (dlogits)
      for (int64_t v = threadIdx.x; v < V; v += kCeThreads) dlogits[p * V + v] = __float2bfloat16_rn(0.f);
    return;
  }
  float mx = -INFINITY;
  for (int64_t v = threadIdx.x; v < V; v += kCeThreads) mx = fmaxf(mx, __bfloat162float(x[v]));
  mx = blockReduce(mx, true, red);
  float s = 0.f;
  for (int64_t v = threadIdx.x; v < V; v += kCeThreads) s += expf(__bfloat162float(x[v]) - mx);
  s = blockReduce(s, false, red);
  float lse = mx + logf(s);
  if (threadIdx.x == 0) losses[p] = lse - __bfloat162float(x[label]);
  if (dlogits) {
    for (int64_t v = threadIdx.x; v < V; v += kCeThreads) {
      float g = expf(__bfloat162float(x[v]) - lse) * gradScale;
      if (v == label) g -= gradScale;
      dlogits[p * V + v] = __float2bfloat16_rn(g);
    }
  }
}

// ================================ launchers ================================

}  // namespace cuda

using namespace cuda;

void CudaBackend::crossEntropyImpl(const Tensor& logits, const Tensor& labels, float gradScale,
                               Tensor& losses, Tensor* dlogits) {
  int64_t P = logits.dim(0), V = logits.dim(1);
  if (P == 0) return;
  PLAST_CHECK(P <= 0x7fffffff, Code::Shape, "cross_entropy: too many rows (" << P << ")");
  crossEntropyKernel<<<static_cast<unsigned>(P), kCeThreads>>>(
      logits.ptr<bf16>(), labels.ptr<int32_t>(), gradScale, losses.ptr<float>(),
      dlogits ? dlogits->ptr<bf16>() : nullptr, V);
  checkLaunch("cross_entropy");
}

}  // namespace plast
