// Multi-tensor AdamW over fp32 masters (torch.optim.AdamW semantics, the same f32 operation order
// as the CPU reference, no contraction into FMAs) and the deterministic sum of squares.
#include "cuda/common.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

struct AdamSlotDev {
  float* w;
  const float* g;
  float* m;
  float* v;
  void* out;    // the model's weight, refreshed from the master (nullptr: none)
  int outType;  // kBF16/kF16/kF32
  int64_t n;
  int64_t blockStart;  // first block of this tensor in the launch
};

constexpr int kAdamThreads = 256;
constexpr int kAdamPerBlock = kAdamThreads * 4;

// One launch for all tensors: block b belongs to the slot whose blockStart is the last <= b.
__global__ void __launch_bounds__(kAdamThreads)
    adamwKernel(const AdamSlotDev* __restrict__ slots, int nslots, AdamWScalars s) {
  int lo = 0, hi = nslots - 1;
  int64_t b = blockIdx.x;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (slots[mid].blockStart <= b) lo = mid; else hi = mid - 1;
  }
  const AdamSlotDev sl = slots[lo];
  int64_t base = (b - sl.blockStart) * kAdamPerBlock;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    int64_t i = base + e * kAdamThreads + threadIdx.x;
    if (i >= sl.n) break;
    float gi = sl.g[i];
    if (s.gradScale != 1.0f) gi = __fmul_rn(gi, s.gradScale);
    float w = __fmul_rn(sl.w[i], s.decay);
    float m = sl.m[i], v = sl.v[i];
    m = __fadd_rn(m, __fmul_rn(s.oneMinusBeta1, __fsub_rn(gi, m)));
    v = __fadd_rn(__fmul_rn(v, s.beta2), __fmul_rn(__fmul_rn(s.oneMinusBeta2, gi), gi));
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), s.bc2Sqrt), s.eps);
    w = __fsub_rn(w, __fmul_rn(s.stepSize, __fdiv_rn(m, denom)));
    sl.w[i] = w;
    sl.m[i] = m;
    sl.v[i] = v;
    if (sl.out) stF(sl.out, sl.outType, i, w);
  }
}

constexpr int kSsThreads = 256;

__device__ double blockSumD(double v) {
  __shared__ double red[kSsThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) red[w] = v;
  __syncthreads();
  double r = 0;
  if (threadIdx.x == 0)
    for (int i = 0; i < kSsThreads / 32; ++i) r += red[i];
  return r;
}

__global__ void __launch_bounds__(kSsThreads)
    sumSquaresPartial(const float* __restrict__ x, int64_t n, double* __restrict__ partial) {
  double acc = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kSsThreads) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kSsThreads) {
    double v = x[i];
    acc += v * v;
  }
  double r = blockSumD(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = r;
}

__global__ void __launch_bounds__(kSsThreads) sumPartials(const double* __restrict__ p, int n, double* out) {
  double acc = 0;
  for (int i = threadIdx.x; i < n; i += kSsThreads) acc += p[i];
  double r = blockSumD(acc);
  if (threadIdx.x == 0) *out = r;
}

// ================================ launchers ================================

}  // namespace cuda

using namespace cuda;

void CudaBackend::adamwImpl(const std::vector<AdamWSlot>& slots, const AdamWParams& p) {
  const char* op = "adamw";
  AdamWScalars s = adamwScalars(p);
  std::vector<AdamSlotDev> dev;
  int64_t blocks = 0;
  for (const AdamWSlot& sl : slots) {
    AdamSlotDev d{sl.master.ptr<float>(), sl.grad.ptr<float>(), sl.m.ptr<float>(), sl.v.ptr<float>(),
                  nullptr, kF32, sl.master.numel(), blocks};
    if (sl.weight.defined() && sl.weight.data() != sl.master.data()) {
      d.out = sl.weight.data();
      d.outType = static_cast<int>(sl.weight.dtype);
    }
    if (d.n == 0) continue;
    blocks += ceilDiv(d.n, kAdamPerBlock);
    dev.push_back(d);
  }
  if (dev.empty()) return;
  PLAST_CHECK(blocks <= 0x7fffffff, Code::Shape, "adamw: too many elements");
  Tensor table = empty({static_cast<int64_t>(dev.size() * sizeof(AdamSlotDev))}, DType::U8);
  upload(table, dev.data());
  adamwKernel<<<static_cast<unsigned>(blocks), kAdamThreads>>>(
      static_cast<const AdamSlotDev*>(table.data()), static_cast<int>(dev.size()), s);
  checkLaunch(op);
}

double CudaBackend::sumSquaresImpl(const std::vector<Tensor>& xs) {
  const char* op = "sum_squares";
  std::vector<int> nb;
  int total = 0;
  for (const Tensor& x : xs) {
    int b = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(1024, ceilDiv(x.numel(), 8192))));
    nb.push_back(b);
    total += b;
  }
  if (xs.empty()) return 0.0;
  Tensor part = empty({static_cast<int64_t>((total + 1) * sizeof(double))}, DType::U8);
  double* pp = static_cast<double*>(part.data());
  int off = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    sumSquaresPartial<<<nb[i], kSsThreads>>>(xs[i].ptr<float>(), xs[i].numel(), pp + off);
    checkLaunch(op);
    off += nb[i];
  }
  sumPartials<<<1, kSsThreads>>>(pp, total, pp + total);
  checkLaunch(op);
  double r = 0;
  PLAST_CUDA(cudaMemcpy(&r, pp + total, sizeof(double), cudaMemcpyDeviceToHost));
  return r;
}

}  // namespace plast
