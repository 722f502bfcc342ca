// Flash-attention-2 style backward for head dims 64 and 128 (see attention.cuh), and the
// backend's attention_backward op, which picks the flash or the generic kernels.
#include "cuda/attention.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

// ---- flash backward ----
// p[0] += a, p[1] += b (8-byte aligned): one vector reduction on sm_90, two atomics before.
__device__ __forceinline__ void atomicAddPair(float* p, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(p), "f"(a), "f"(b) : "memory");
#else
  atomicAdd(p, a);
  atomicAdd(p + 1, b);
#endif
}

// CTA: BKV = 16*NWB keys of one (batch, kv head); NWB warps own 16 keys each. Loops over the group's query
// heads and 64-row query blocks (double-buffered): S^T = K Q^T, P^T, dV += P^T dO, dP^T = V dO^T,
// dS^T = P^T (dP^T - D), dK += dS^T Q, then dS^T through shared memory for dQ += dS K (atomics).
template <int D, int NWB>
struct BwdCfg {
  static constexpr int BQ = 64, BKV = 16 * NWB;
  static constexpr int THREADS = 32 * NWB;
  static constexpr int SMEM = (2 * BKV * D + 4 * BQ * D + BKV * BQ) * 2 + (4 * BQ + BKV) * 4;
};

template <int D, int NWB>
__global__ void __launch_bounds__(32 * NWB) flashBwdKernel(const AttnParams p) {
  constexpr int BQ = 64, NT = 32 * NWB, DC = D / 8, NQT = BQ / 8, NDT = D / 8, kBKV = 16 * NWB;
  static_assert(NWB == 4 || NWB == 8, "4 or 8 warps");
  using SK = Swz<kBKV, D>;
  using SQ = Swz<BQ, D>;
  using SS = Swz<kBKV, BQ>;
  extern __shared__ __align__(128) unsigned char raw[];
  bf16* sK = reinterpret_cast<bf16*>(raw);
  bf16* sV = sK + kBKV * D;
  bf16* sQ = sV + kBKV * D;      // [2][BQ][D]
  bf16* sdO = sQ + 2 * BQ * D;   // [2][BQ][D]
  bf16* sdS = sdO + 2 * BQ * D;  // [kBKV][BQ]
  float* sLse = reinterpret_cast<float*>(sdS + kBKV * BQ);  // [2][BQ], log2 domain
  float* sDd = sLse + 2 * BQ;                                // [2][BQ]
  int* sM = reinterpret_cast<int*>(sDd + 2 * BQ);            // [kBKV]

  const int kb = blockIdx.x, hk = blockIdx.y, b = blockIdx.z;
  const int T = p.T, k0 = kb * kBKV, group = p.group;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t qs = static_cast<int64_t>(p.Hq) * D, ks = static_cast<int64_t>(p.Hkv) * D;
  const int64_t kOff = static_cast<int64_t>(b) * T * ks + static_cast<int64_t>(hk) * D;
  const int32_t* mBase = p.mask + static_cast<int64_t>(b) * T;

  for (int id = tid; id < kBKV * DC; id += NT) {
    int r = id / DC, c = id % DC, t = k0 + r;
    bool ok = t < T;
    cpAsync16(smemAddr(sK + SK::off(r, c)), ok ? p.k + kOff + t * ks + c * 8 : p.k, ok ? 16 : 0);
    cpAsync16(smemAddr(sV + SK::off(r, c)), ok ? p.v + kOff + t * ks + c * 8 : p.v, ok ? 16 : 0);
  }
  int pad = 0;
  for (int r = tid; r < kBKV; r += NT) {
    int m = (k0 + r < T) ? mBase[k0 + r] : 0;
    sM[r] = m;
    pad |= m == 0;
  }

  const int qHi = p.window > 0 ? min(T, k0 + kBKV - 1 + p.window) : T;
  const int qbLo = k0 / BQ, qbHi = (qHi + BQ - 1) / BQ;
  const int nqb = max(0, qbHi - qbLo), nItems = group * nqb;
  auto loadItem = [&](int it, int buf) {
    int h = hk * group + it / nqb, q0 = (qbLo + it % nqb) * BQ;
    const bf16* qB = p.q + static_cast<int64_t>(b) * T * qs + static_cast<int64_t>(h) * D;
    const bf16* dB = p.dout + static_cast<int64_t>(b) * T * qs + static_cast<int64_t>(h) * D;
    for (int id = tid; id < BQ * DC; id += NT) {
      int r = id / DC, c = id % DC, t = q0 + r;
      bool ok = t < T;
      cpAsync16(smemAddr(sQ + buf * BQ * D + SQ::off(r, c)), ok ? qB + t * qs + c * 8 : qB, ok ? 16 : 0);
      cpAsync16(smemAddr(sdO + buf * BQ * D + SQ::off(r, c)), ok ? dB + t * qs + c * 8 : dB, ok ? 16 : 0);
    }
    for (int r = tid; r < BQ; r += NT) {
      int t = q0 + r;
      int64_t li = (static_cast<int64_t>(b) * p.Hq + h) * T + t;
      float L = t < T ? p.lseIn[li] : -INFINITY;
      sLse[buf * BQ + r] = L == -INFINITY ? INFINITY : L * kLog2e;  // no visible key: p = 0
      sDd[buf * BQ + r] = t < T ? p.Dd[li] : 0.f;
    }
  };
  if (nItems > 0) loadItem(0, 0);
  cpAsyncCommit();
  const bool keyPad = __syncthreads_or(pad) != 0;

  float dK[NDT][4], dV[NDT][4];
#pragma unroll
  for (int dn = 0; dn < NDT; ++dn)
#pragma unroll
    for (int e = 0; e < 4; ++e) dK[dn][e] = dV[dn][e] = 0.f;
  const int wk0 = warp * 16;  // this warp's keys inside the tile

  for (int it = 0; it < nItems; ++it) {
    const int buf = it & 1;
    const int h = hk * group + it / nqb, q0 = (qbLo + it % nqb) * BQ;
    if (it + 1 < nItems) loadItem(it + 1, buf ^ 1);
    cpAsyncCommit();
    cpAsyncWait<1>();
    __syncthreads();
    const bf16* cQ = sQ + buf * BQ * D;
    const bf16* cdO = sdO + buf * BQ * D;
    const float* cL = sLse + buf * BQ;
    const float* cD = sDd + buf * BQ;
    const bool needMask = keyPad || (q0 < k0 + kBKV - 1) || (q0 + BQ > T) || (k0 + kBKV > T) ||
                          (p.window > 0 && q0 + BQ - 1 - k0 >= p.window);

    // S^T = K Q^T and dP^T = V dO^T (16 keys x 64 queries per warp)
    float st[NQT][4], dp[NQT][4];
#pragma unroll
    for (int ni = 0; ni < NQT; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[ni][e] = dp[ni][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t ak[4], av[4];
      ldsm4(ak, smemAddr(sK + SK::off(wk0 + (lane & 15), kk * 2 + (lane >> 4))));
      ldsm4(av, smemAddr(sV + SK::off(wk0 + (lane & 15), kk * 2 + (lane >> 4))));
#pragma unroll
      for (int ni = 0; ni < NQT; ni += 2) {
        uint32_t r[4], rd[4];
        int row = ni * 8 + (lane & 7) + (lane >> 4) * 8, ch = kk * 2 + ((lane >> 3) & 1);
        ldsm4(r, smemAddr(cQ + SQ::off(row, ch)));
        ldsm4(rd, smemAddr(cdO + SQ::off(row, ch)));
        mma16816(st[ni], ak, r[0], r[1]);
        mma16816(st[ni + 1], ak, r[2], r[3]);
        mma16816(dp[ni], av, rd[0], rd[1]);
        mma16816(dp[ni + 1], av, rd[2], rd[3]);
      }
    }
    // P^T and dS^T
#pragma unroll
    for (int ni = 0; ni < NQT; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int jl = wk0 + (lane >> 2) + (e >> 1) * 8, j = k0 + jl;
        int c = ni * 8 + (lane & 3) * 2 + (e & 1), i = q0 + c;
        float pv = fastExp2(st[ni][e] * p.scaleLog2 - cL[c]);
        if (needMask) {
          bool ok = i < T && j < T && j <= i && sM[jl] != 0 && (p.window <= 0 || i - j < p.window);
          if (!ok) pv = 0.f;
        }
        st[ni][e] = pv;
        dp[ni][e] = pv * (dp[ni][e] - cD[c]);
      }
    // dV += P^T dO ; dK += dS^T Q  (k dimension = queries)
#pragma unroll
    for (int kk = 0; kk < BQ / 16; ++kk) {
      uint32_t ap[4], as[4];
      ap[0] = packBf16(st[2 * kk][0], st[2 * kk][1]);
      ap[1] = packBf16(st[2 * kk][2], st[2 * kk][3]);
      ap[2] = packBf16(st[2 * kk + 1][0], st[2 * kk + 1][1]);
      ap[3] = packBf16(st[2 * kk + 1][2], st[2 * kk + 1][3]);
      as[0] = packBf16(dp[2 * kk][0], dp[2 * kk][1]);
      as[1] = packBf16(dp[2 * kk][2], dp[2 * kk][3]);
      as[2] = packBf16(dp[2 * kk + 1][0], dp[2 * kk + 1][1]);
      as[3] = packBf16(dp[2 * kk + 1][2], dp[2 * kk + 1][3]);
#pragma unroll
      for (int dn = 0; dn < NDT; dn += 2) {
        uint32_t r[4], rq[4];
        int row = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = dn + (lane >> 4);
        ldsm4t(r, smemAddr(cdO + SQ::off(row, ch)));
        ldsm4t(rq, smemAddr(cQ + SQ::off(row, ch)));
        mma16816(dV[dn], ap, r[0], r[1]);
        mma16816(dV[dn + 1], ap, r[2], r[3]);
        mma16816(dK[dn], as, rq[0], rq[1]);
        mma16816(dK[dn + 1], as, rq[2], rq[3]);
      }
    }
    // dS^T to shared memory
#pragma unroll
    for (int ni = 0; ni < NQT; ++ni)
#pragma unroll
      for (int rh = 0; rh < 2; ++rh) {
        int jl = wk0 + (lane >> 2) + rh * 8;
        *reinterpret_cast<uint32_t*>(sdS + SS::off(jl, ni) + (lane & 3) * 2) =
            packBf16(dp[ni][2 * rh], dp[ni][2 * rh + 1]);
      }
    __syncthreads();
    // dQ[q, d] += scale * dS[q, k] K[k, d]; this warp: queries qw*16..+15 and one half of D
    // (8 warps) or both halves in turn (4 warps).
    float* dqB = p.dqAcc + static_cast<int64_t>(b) * T * qs + static_cast<int64_t>(h) * D;
    const int qw = warp % 4;
    const int hLo = NWB == 8 ? warp / 4 : 0, hHi = NWB == 8 ? warp / 4 + 1 : 2;
#pragma unroll
    for (int half = hLo; half < hHi; ++half) {
      float acc[NDT / 2][4];
#pragma unroll
      for (int dn = 0; dn < NDT / 2; ++dn)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[dn][e] = 0.f;
#pragma unroll
      for (int kk = 0; kk < kBKV / 16; ++kk) {
        uint32_t a[4];
        ldsm4t(a, smemAddr(sdS + SS::off(kk * 16 + (lane & 7) + (lane >> 4) * 8, qw * 2 + ((lane >> 3) & 1))));
#pragma unroll
        for (int dn = 0; dn < NDT / 2; dn += 2) {
          uint32_t r[4];
          ldsm4t(r, smemAddr(sK + SK::off(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8,
                                          half * (NDT / 2) + dn + (lane >> 4))));
          mma16816(acc[dn], a, r[0], r[1]);
          mma16816(acc[dn + 1], a, r[2], r[3]);
        }
      }
#pragma unroll
      for (int rh = 0; rh < 2; ++rh) {
        int t = q0 + qw * 16 + (lane >> 2) + rh * 8;
        if (t >= T) continue;
        float* row = dqB + t * qs;
#pragma unroll
        for (int dn = 0; dn < NDT / 2; ++dn) {
          int d = (half * (NDT / 2) + dn) * 8 + (lane & 3) * 2;
          atomicAddPair(row + d, acc[dn][2 * rh] * p.scale, acc[dn][2 * rh + 1] * p.scale);
        }
      }
    }
    __syncthreads();  // sdS and this buffer are refilled next
  }
  cpAsyncWait<0>();
  // write dK (scaled), dV
#pragma unroll
  for (int rh = 0; rh < 2; ++rh) {
    int t = k0 + wk0 + (lane >> 2) + rh * 8;
    if (t >= T) continue;
    bf16* dkr = p.dk + kOff + t * ks;
    bf16* dvr = p.dv + kOff + t * ks;
#pragma unroll
    for (int dn = 0; dn < NDT; ++dn) {
      int d = dn * 8 + (lane & 3) * 2;
      *reinterpret_cast<uint32_t*>(dkr + d) = packBf16(dK[dn][2 * rh] * p.scale, dK[dn][2 * rh + 1] * p.scale);
      *reinterpret_cast<uint32_t*>(dvr + d) = packBf16(dV[dn][2 * rh], dV[dn][2 * rh + 1]);
    }
  }
}

// Dd[b,h,i] = sum_d dout * out (one warp per row)
__global__ void attnBwdPrep(const AttnParams p) {
  int64_t w = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  int64_t rows = static_cast<int64_t>(p.B) * p.T * p.Hq;
  if (w >= rows) return;
  // w enumerates (b, t, h) in memory order
  int h = static_cast<int>(w % p.Hq);
  int64_t bt = w / p.Hq;
  int t = static_cast<int>(bt % p.T), b = static_cast<int>(bt / p.T);
  const bf16* d = p.dout + w * p.D;
  const bf16* o = p.out + w * p.D;
  float s = 0.f;
  for (int c = lane; c < p.D; c += 32) s += __bfloat162float(d[c]) * __bfloat162float(o[c]);
  s = warpSum(s);
  if (lane == 0) p.Dd[(static_cast<int64_t>(b) * p.Hq + h) * p.T + t] = s;
}

__global__ void f32ToBf16Kernel(const float* __restrict__ x, bf16* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = __float2bfloat16_rn(x[i]);
}

// ================================ launchers ================================

namespace {

template <int D, int NWB>
void launchFlashBwd(const AttnParams& p) {
  using Cfg = BwdCfg<D, NWB>;
  auto kernel = flashBwdKernel<D, NWB>;
  static const bool ready = (ensureSmem(kernel, Cfg::SMEM), true);
  (void)ready;
  dim3 grid(static_cast<unsigned>(ceilDiv(p.T, Cfg::BKV)), p.Hkv, p.B);
  kernel<<<grid, Cfg::THREADS, Cfg::SMEM>>>(p);
  checkLaunch("attention_backward (flash)");
}

}  // namespace
}  // namespace cuda

using namespace cuda;

void CudaBackend::attentionBackwardImpl(const Tensor& dout, const Tensor& q, const Tensor& k,
                                    const Tensor& v, const Tensor& keyMask, const Tensor& out,
                                    const Tensor& lse, float scale, AttnMask mask, Tensor& dq,
                                    Tensor& dk, Tensor& dv) {
  Dims d = dims("attention_backward", q, k, mask);
  int window = mask.window;
  if (d.B == 0 || d.T == 0 || d.Hq == 0 || d.D == 0) return;
  AttnParams p = makeParams(d, q, k, v, keyMask, scale, window);
  p.dout = dout.ptr<bf16>();
  p.out = out.ptr<bf16>();
  p.lseIn = lse.ptr<float>();
  p.dq = dq.ptr<bf16>();
  p.dk = dk.ptr<bf16>();
  p.dv = dv.ptr<bf16>();
  Tensor Dd = empty({d.B, d.Hq, d.T}, DType::F32);
  p.Dd = Dd.ptr<float>();
  attnBwdPrep<<<warpGrid(d.B * d.T * d.Hq), 256>>>(p);
  checkLaunch("attention_backward (prep)");
  int var = variantIndex("attention_backward");  // 0 auto, 1 flash, 2 generic, 3 flash_k128
  if (var != 2 && (d.D == 64 || d.D == 128)) {
    Tensor acc = empty(q.shape, DType::F32);
    PLAST_CUDA(cudaMemsetAsync(acc.data(), 0, acc.nbytes()));
    p.dqAcc = acc.ptr<float>();
    bool k128 = var == 3;
    if (d.D == 128) {
      if (k128) launchFlashBwd<128, 8>(p); else launchFlashBwd<128, 4>(p);
    } else {
      if (k128) launchFlashBwd<64, 8>(p); else launchFlashBwd<64, 4>(p);
    }
    int64_t n = q.numel();
    f32ToBf16Kernel<<<gridFor(n, 256), 256>>>(p.dqAcc, p.dq, n);
    checkLaunch("attention_backward (dq)");
    return;
  }
  genericBackward(p);
}

}  // namespace plast
