// Attention for any head dim up to 256 (32 * kGenMaxPerLane): one warp per query row (forward,
// dq) or per key (dk, dv), natural exp and f32 throughout. The reference-like path the flash
// kernels fall back to, and the one the small test models (head dims 8, 32) take.
#include "cuda/attention.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

__device__ __forceinline__ bool attnAllowed(int i, int j, const int32_t* mask, int window) {
  return j <= i && mask[j] != 0 && (window <= 0 || i - j < window);
}

// One warp per (b, h, i): sequential keys with an online softmax (natural exp, f32).
__global__ void attnFwdGeneric(const AttnParams p) {
  int64_t w = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  int64_t rows = static_cast<int64_t>(p.B) * p.T * p.Hq;
  if (w >= rows) return;
  int h = static_cast<int>(w % p.Hq);
  int64_t bt = w / p.Hq;
  int i = static_cast<int>(bt % p.T), b = static_cast<int>(bt / p.T);
  int hk = h / p.group, D = p.D;
  const int32_t* mask = p.mask + static_cast<int64_t>(b) * p.T;
  const bf16* qi = p.q + w * D;
  float qv[kGenMaxPerLane], o[kGenMaxPerLane];
#pragma unroll
  for (int t = 0; t < kGenMaxPerLane; ++t) {
    int d = lane + 32 * t;
    qv[t] = d < D ? __bfloat162float(qi[d]) : 0.f;
    o[t] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  int jLo = p.window > 0 ? max(0, i - p.window + 1) : 0;
  for (int j = jLo; j <= i; ++j) {
    if (mask[j] == 0) continue;
    const int64_t kr = ((static_cast<int64_t>(b) * p.T + j) * p.Hkv + hk) * D;
    float dot = 0.f;
#pragma unroll
    for (int t = 0; t < kGenMaxPerLane; ++t) {
      int d = lane + 32 * t;
      if (d < D) dot += qv[t] * __bfloat162float(p.k[kr + d]);
    }
    float s = warpSum(dot) * p.scale;
    float mn = fmaxf(m, s);
    float corr = expf(m - mn), pj = expf(s - mn);
    l = l * corr + pj;
#pragma unroll
    for (int t = 0; t < kGenMaxPerLane; ++t) {
      int d = lane + 32 * t;
      if (d < D) o[t] = o[t] * corr + pj * __bfloat162float(p.v[kr + d]);
    }
    m = mn;
  }
  float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
  for (int t = 0; t < kGenMaxPerLane; ++t) {
    int d = lane + 32 * t;
    if (d < D) p.o[w * D + d] = __float2bfloat16_rn(o[t] * inv);
  }
  if (p.lse && lane == 0)
    p.lse[(static_cast<int64_t>(b) * p.Hq + h) * p.T + i] = l > 0.f ? m + logf(l) : -INFINITY;
}

// dq for one (b, h, i) per warp; Dd must be ready.
__global__ void attnBwdDqGeneric(const AttnParams p) {
  int64_t w = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  int64_t rows = static_cast<int64_t>(p.B) * p.T * p.Hq;
  if (w >= rows) return;
  int h = static_cast<int>(w % p.Hq);
  int64_t bt = w / p.Hq;
  int i = static_cast<int>(bt % p.T), b = static_cast<int>(bt / p.T);
  int hk = h / p.group, D = p.D;
  const int32_t* mask = p.mask + static_cast<int64_t>(b) * p.T;
  int64_t li = (static_cast<int64_t>(b) * p.Hq + h) * p.T + i;
  float L = p.lseIn[li], Di = p.Dd[li];
  float qv[kGenMaxPerLane], dov[kGenMaxPerLane], dq[kGenMaxPerLane];
#pragma unroll
  for (int t = 0; t < kGenMaxPerLane; ++t) {
    int d = lane + 32 * t;
    qv[t] = d < D ? __bfloat162float(p.q[w * D + d]) : 0.f;
    dov[t] = d < D ? __bfloat162float(p.dout[w * D + d]) : 0.f;
    dq[t] = 0.f;
  }
  if (L != -INFINITY) {
    int jLo = p.window > 0 ? max(0, i - p.window + 1) : 0;
    for (int j = jLo; j <= i; ++j) {
      if (mask[j] == 0) continue;
      const int64_t kr = ((static_cast<int64_t>(b) * p.T + j) * p.Hkv + hk) * D;
      float dot = 0.f, dpv = 0.f;
#pragma unroll
      for (int t = 0; t < kGenMaxPerLane; ++t) {
        int d = lane + 32 * t;
        if (d < D) {
          dot += qv[t] * __bfloat162float(p.k[kr + d]);
          dpv += dov[t] * __bfloat162float(p.v[kr + d]);
        }
      }
      dot = warpSum(dot);
      dpv = warpSum(dpv);
      float pij = expf(dot * p.scale - L);
      float ds = pij * (dpv - Di) * p.scale;
#pragma unroll
      for (int t = 0; t < kGenMaxPerLane; ++t) {
        int d = lane + 32 * t;
        if (d < D) dq[t] += ds * __bfloat162float(p.k[kr + d]);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kGenMaxPerLane; ++t) {
    int d = lane + 32 * t;
    if (d < D) p.dq[w * D + d] = __float2bfloat16_rn(dq[t]);
  }
}

// dk, dv for one (b, hk, j) per warp, over the group's query heads.
__global__ void attnBwdDkvGeneric(const AttnParams p) {
  int64_t w = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  int64_t rows = static_cast<int64_t>(p.B) * p.T * p.Hkv;
  if (w >= rows) return;
  int hk = static_cast<int>(w % p.Hkv);
  int64_t bt = w / p.Hkv;
  int j = static_cast<int>(bt % p.T), b = static_cast<int>(bt / p.T);
  int D = p.D;
  const int32_t* mask = p.mask + static_cast<int64_t>(b) * p.T;
  float kv[kGenMaxPerLane], vv[kGenMaxPerLane], dk[kGenMaxPerLane], dv[kGenMaxPerLane];
#pragma unroll
  for (int t = 0; t < kGenMaxPerLane; ++t) {
    int d = lane + 32 * t;
    kv[t] = d < D ? __bfloat162float(p.k[w * D + d]) : 0.f;
    vv[t] = d < D ? __bfloat162float(p.v[w * D + d]) : 0.f;
    dk[t] = dv[t] = 0.f;
  }
  if (mask[j] != 0) {
    int iHi = p.window > 0 ? min(p.T - 1, j + p.window - 1) : p.T - 1;
    for (int h = hk * p.group; h < (hk + 1) * p.group; ++h)
      for (int i = j; i <= iHi; ++i) {
        int64_t li = (static_cast<int64_t>(b) * p.Hq + h) * p.T + i;
        float L = p.lseIn[li];
        if (L == -INFINITY) continue;
        const int64_t qr = ((static_cast<int64_t>(b) * p.T + i) * p.Hq + h) * D;
        float dot = 0.f, dpv = 0.f;
#pragma unroll
        for (int t = 0; t < kGenMaxPerLane; ++t) {
          int d = lane + 32 * t;
          if (d < D) {
            dot += __bfloat162float(p.q[qr + d]) * kv[t];
            dpv += __bfloat162float(p.dout[qr + d]) * vv[t];
          }
        }
        dot = warpSum(dot);
        dpv = warpSum(dpv);
        float pij = expf(dot * p.scale - L);
        float ds = pij * (dpv - p.Dd[li]) * p.scale;
#pragma unroll
        for (int t = 0; t < kGenMaxPerLane; ++t) {
          int d = lane + 32 * t;
          if (d < D) {
            dk[t] += ds * __bfloat162float(p.q[qr + d]);
            dv[t] += pij * __bfloat162float(p.dout[qr + d]);
          }
        }
      }
  }
#pragma unroll
  for (int t = 0; t < kGenMaxPerLane; ++t) {
    int d = lane + 32 * t;
    if (d < D) {
      p.dk[w * D + d] = __float2bfloat16_rn(dk[t]);
      p.dv[w * D + d] = __float2bfloat16_rn(dv[t]);
    }
  }
}

// ================================ launchers ================================

void genericForward(const AttnParams& p) {
  attnFwdGeneric<<<warpGrid(static_cast<int64_t>(p.B) * p.T * p.Hq), 256>>>(p);
  checkLaunch("attention (generic)");
}

void genericBackward(const AttnParams& p) {
  attnBwdDqGeneric<<<warpGrid(static_cast<int64_t>(p.B) * p.T * p.Hq), 256>>>(p);
  checkLaunch("attention_backward (generic dq)");
  attnBwdDkvGeneric<<<warpGrid(static_cast<int64_t>(p.B) * p.T * p.Hkv), 256>>>(p);
  checkLaunch("attention_backward (generic dk/dv)");
}

}  // namespace cuda
}  // namespace plast
