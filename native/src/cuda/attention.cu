// Causal attention with GQA, key padding masks and an optional sliding window.
//
// Head dims 64 and 128 run flash-attention-2 style tensor-core kernels (a static switch turns the
// runtime head dim into a template parameter): the forward keeps the running max / sum per query
// row in registers (online softmax in the log2 domain) and never writes the score matrix; the
// backward recomputes probabilities from the saved log-sum-exp, one CTA per 64-key block and KV
// head looping over the group's query heads (dk, dv in registers), dq accumulated by f32 atomics.
// Other head dims (the small test models use 8 and 32) run the generic kernels: one warp per
// query row (forward, dq) or per key (dk, dv), f32 throughout.
#include <cmath>

#include "cuda/common.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

struct AttnParams {
  const bf16* q;
  const bf16* k;
  const bf16* v;
  const int32_t* mask;  // [B, T]
  bf16* o;              // forward output
  float* lse;           // forward lse (may be null)
  const bf16* dout;
  const bf16* out;  // backward: forward output
  const float* lseIn;
  float* Dd;     // [B, Hq, T] rowsum(dout * out)
  float* dqAcc;  // [B, T, Hq, D] f32
  bf16* dq;
  bf16* dk;
  bf16* dv;
  int B, T, Hq, Hkv, D, group, window;
  float scale, scaleLog2;
};

constexpr float kLog2e = 1.4426950408889634f;

// 2^x with the hardware approximation (flush-to-zero; exp2(-inf) = 0).
__device__ __forceinline__ float fastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kBKV = 64;

// ---- flash forward ----
// CTA: BQ = NW*MT*16 query rows of one (batch, head); each warp owns MT*16 rows. Key/value tiles
// of BKV rows are double-buffered with cp.async.
template <int D, int NW, int MT, int BKV>
struct FwdCfg {
  static constexpr int BQ = NW * MT * 16;
  static constexpr int THREADS = NW * 32;
  static constexpr int SMEM = (BQ * D + 4 * BKV * D) * 2 + 2 * BKV * 4;
};

template <int D, int NW, int MT, int BKV>
__global__ void __launch_bounds__(NW * 32) flashFwdKernel(const AttnParams p) {
  using Cfg = FwdCfg<D, NW, MT, BKV>;
  constexpr int BQ = Cfg::BQ, NT = Cfg::THREADS, DC = D / 8, NKT = BKV / 8, NDT = D / 8;
  using SQ = Swz<BQ, D>;
  using SK = Swz<BKV, D>;
  extern __shared__ __align__(128) unsigned char raw[];
  bf16* sQ = reinterpret_cast<bf16*>(raw);
  bf16* sK = sQ + BQ * D;
  bf16* sV = sK + 2 * BKV * D;
  int* sM = reinterpret_cast<int*>(sV + 2 * BKV * D);

  const int qb = gridDim.x - 1 - blockIdx.x;  // the longest rows first
  const int h = blockIdx.y, b = blockIdx.z, hk = h / p.group;
  const int T = p.T, q0 = qb * BQ;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t qs = static_cast<int64_t>(p.Hq) * D, ks = static_cast<int64_t>(p.Hkv) * D;
  const bf16* qBase = p.q + static_cast<int64_t>(b) * T * qs + static_cast<int64_t>(h) * D;
  const bf16* kBase = p.k + static_cast<int64_t>(b) * T * ks + static_cast<int64_t>(hk) * D;
  const bf16* vBase = p.v + static_cast<int64_t>(b) * T * ks + static_cast<int64_t>(hk) * D;
  const int32_t* mBase = p.mask + static_cast<int64_t>(b) * T;

  for (int id = tid; id < BQ * DC; id += NT) {
    int r = id / DC, c = id % DC, t = q0 + r;
    cpAsync16(smemAddr(sQ + SQ::off(r, c)), t < T ? qBase + t * qs + c * 8 : qBase, t < T ? 16 : 0);
  }
  cpAsyncCommit();

  const int kLo = p.window > 0 ? max(0, q0 - p.window + 1) : 0;
  const int kHi = min(T, q0 + BQ);
  const int kbLo = kLo / BKV, kbHi = (kHi + BKV - 1) / BKV;
  auto loadKV = [&](int kb, int buf) {
    int k0 = kb * BKV;
    bf16* dK = sK + buf * BKV * D;
    bf16* dV = sV + buf * BKV * D;
    for (int id = tid; id < BKV * DC; id += NT) {
      int r = id / DC, c = id % DC, t = k0 + r;
      bool ok = t < T;
      cpAsync16(smemAddr(dK + SK::off(r, c)), ok ? kBase + t * ks + c * 8 : kBase, ok ? 16 : 0);
      cpAsync16(smemAddr(dV + SK::off(r, c)), ok ? vBase + t * ks + c * 8 : vBase, ok ? 16 : 0);
    }
    for (int r = tid; r < BKV; r += NT) sM[buf * BKV + r] = (k0 + r < T) ? mBase[k0 + r] : 0;
  };
  if (kbLo < kbHi) loadKV(kbLo, 0);
  cpAsyncCommit();

  float o[MT][NDT][4];
  float mrow[MT][2], lrow[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dn = 0; dn < NDT; ++dn)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[mt][dn][e] = 0.f;
    mrow[mt][0] = mrow[mt][1] = -INFINITY;
    lrow[mt][0] = lrow[mt][1] = 0.f;
  }
  const int wr0 = warp * MT * 16;  // first row of this warp inside the tile

  for (int kb = kbLo; kb < kbHi; ++kb) {
    const int buf = (kb - kbLo) & 1;
    const int k0 = kb * BKV;
    int pad = 0;
    for (int r = tid; r < BKV; r += NT) pad |= sM[buf * BKV + r] == 0;  // written by this thread
    cpAsyncWait<0>();
    // One barrier: this tile has landed for every thread, and every warp is done with the other
    // buffer (the previous tile), which is refilled right after.
    bool needMask = __syncthreads_or(pad) != 0;
    if (kb + 1 < kbHi) loadKV(kb + 1, buf ^ 1);
    cpAsyncCommit();
    needMask = needMask || (k0 + BKV - 1 > q0) || (k0 + BKV > T) ||
               (p.window > 0 && q0 + BQ - 1 - k0 >= p.window);
    const bf16* cK = sK + buf * BKV * D;
    const bf16* cV = sV + buf * BKV * D;

    float s[MT][NKT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int ni = 0; ni < NKT; ++ni)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[mt][ni][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
        ldsm4(a[mt], smemAddr(sQ + SQ::off(wr0 + mt * 16 + (lane & 15), kk * 2 + (lane >> 4))));
#pragma unroll
      for (int ni = 0; ni < NKT; ni += 2) {
        uint32_t r[4];
        ldsm4(r, smemAddr(cK + SK::off(ni * 8 + (lane & 7) + (lane >> 4) * 8, kk * 2 + ((lane >> 3) & 1))));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma16816(s[mt][ni], a[mt], r[0], r[1]);
          mma16816(s[mt][ni + 1], a[mt], r[2], r[3]);
        }
      }
    }
    if (needMask) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int ni = 0; ni < NKT; ++ni)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            int i = q0 + wr0 + mt * 16 + (lane >> 2) + (e >> 1) * 8;
            int jl = ni * 8 + (lane & 3) * 2 + (e & 1), j = k0 + jl;
            bool ok = j < T && j <= i && sM[buf * BKV + jl] != 0 && (p.window <= 0 || i - j < p.window);
            if (!ok) s[mt][ni][e] = -INFINITY;
          }
    }
    // online softmax (log2 domain)
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int rh = 0; rh < 2; ++rh) {
        float mx = -INFINITY;
#pragma unroll
        for (int ni = 0; ni < NKT; ++ni) mx = fmaxf(mx, fmaxf(s[mt][ni][2 * rh], s[mt][ni][2 * rh + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        float mnew = fmaxf(mrow[mt][rh], mx * p.scaleLog2);
        float mUse = mnew == -INFINITY ? 0.f : mnew;
        float corr = fastExp2(mrow[mt][rh] - mUse);
        mrow[mt][rh] = mnew;
        float rs = 0.f;
#pragma unroll
        for (int ni = 0; ni < NKT; ++ni)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float pv = fastExp2(s[mt][ni][2 * rh + e] * p.scaleLog2 - mUse);
            s[mt][ni][2 * rh + e] = pv;
            rs += pv;
          }
        lrow[mt][rh] = lrow[mt][rh] * corr + rs;
#pragma unroll
        for (int dn = 0; dn < NDT; ++dn) {
          o[mt][dn][2 * rh] *= corr;
          o[mt][dn][2 * rh + 1] *= corr;
        }
      }
    // O += P V
#pragma unroll
    for (int kk = 0; kk < BKV / 16; ++kk) {
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        a[mt][0] = packBf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        a[mt][1] = packBf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        a[mt][2] = packBf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        a[mt][3] = packBf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dn = 0; dn < NDT; dn += 2) {
        uint32_t r[4];
        ldsm4t(r, smemAddr(cV + SK::off(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dn + (lane >> 4))));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma16816(o[mt][dn], a[mt], r[0], r[1]);
          mma16816(o[mt][dn + 1], a[mt], r[2], r[3]);
        }
      }
    }
  }
  cpAsyncWait<0>();
  __syncthreads();

  // Normalise, stage the warp's rows in its own part of sQ, write 16-byte rows.
  bf16* oBase = p.o + static_cast<int64_t>(b) * T * qs + static_cast<int64_t>(h) * D;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int rh = 0; rh < 2; ++rh) {
      float l = lrow[mt][rh];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      float inv = l > 0.f ? 1.f / l : 0.f;
      int r = wr0 + mt * 16 + (lane >> 2) + rh * 8;
#pragma unroll
      for (int dn = 0; dn < NDT; ++dn)
        *reinterpret_cast<uint32_t*>(sQ + SQ::off(r, dn) + (lane & 3) * 2) =
            packBf16(o[mt][dn][2 * rh] * inv, o[mt][dn][2 * rh + 1] * inv);
      int t = q0 + r;
      if (p.lse && (lane & 3) == 0 && t < T)
        p.lse[(static_cast<int64_t>(b) * p.Hq + h) * T + t] =
            l > 0.f ? (mrow[mt][rh] + log2f(l)) * kLn2 : -INFINITY;
    }
  __syncwarp();
  for (int id = lane; id < MT * 16 * DC; id += 32) {
    int r = wr0 + id / DC, c = id % DC, t = q0 + r;
    if (t < T)
      *reinterpret_cast<uint4*>(oBase + t * qs + c * 8) = *reinterpret_cast<const uint4*>(sQ + SQ::off(r, c));
  }
}

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

// ---- generic kernels (any head dim <= 256) ----
constexpr int kGenMaxPerLane = 8;

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

namespace {

template <int D, int NW, int MT, int BKV = 64>
void launchFlashFwd(const AttnParams& p) {
  using Cfg = FwdCfg<D, NW, MT, BKV>;
  auto kernel = flashFwdKernel<D, NW, MT, BKV>;
  static const bool ready = (ensureSmem(kernel, Cfg::SMEM), true);
  (void)ready;
  dim3 grid(static_cast<unsigned>(ceilDiv(p.T, Cfg::BQ)), p.Hq, p.B);
  kernel<<<grid, Cfg::THREADS, Cfg::SMEM>>>(p);
  checkLaunch("attention (flash forward)");
}

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

unsigned warpGrid(int64_t warps) { return static_cast<unsigned>(ceilDiv(warps * 32, 256)); }

struct Dims {
  int64_t B, T, Hq, Hkv, D;
};

// The shapes were checked by the caller (native/src/ops/attention.cc); these are the limits of
// this backend's kernels.
Dims dims(const char* op, const Tensor& q, const Tensor& k) {
  Dims d{q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3)};
  PLAST_CHECK(d.D <= 32 * kGenMaxPerLane, Code::Unsupported,
              op << ": head dim " << d.D << " is above the CUDA backend's limit of " << 32 * kGenMaxPerLane);
  PLAST_CHECK(d.B < 65536 && d.Hq < 65536 && d.T < (1ll << 30), Code::Shape, op << ": shape too large");
  return d;
}

AttnParams makeParams(const Dims& d, const Tensor& q, const Tensor& k, const Tensor& v,
                      const Tensor& keyMask, float scale, int window) {
  AttnParams p{};
  p.q = q.ptr<bf16>();
  p.k = k.ptr<bf16>();
  p.v = v.ptr<bf16>();
  p.mask = keyMask.ptr<int32_t>();
  p.B = static_cast<int>(d.B);
  p.T = static_cast<int>(d.T);
  p.Hq = static_cast<int>(d.Hq);
  p.Hkv = static_cast<int>(d.Hkv);
  p.D = static_cast<int>(d.D);
  p.group = static_cast<int>(d.Hq / d.Hkv);
  p.window = window > 0 ? window : 0;
  p.scale = scale;
  p.scaleLog2 = scale * kLog2e;
  return p;
}

}  // namespace
}  // namespace cuda

using namespace cuda;

void CudaBackend::attentionImpl(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& keyMask,
                            float scale, int window, Tensor& out, Tensor* lse) {
  Dims d = dims("attention", q, k);
  if (d.B == 0 || d.T == 0 || d.Hq == 0 || d.D == 0) return;
  AttnParams p = makeParams(d, q, k, v, keyMask, scale, window);
  p.o = out.ptr<bf16>();
  p.lse = lse ? lse->ptr<float>() : nullptr;
  int var = variantIndex("attention");  // 0 auto, 1 flash_w4m2, 2 flash_w8m1, 3 generic, 4 flash_w4m2k32
  bool flash = var != 3 && (d.D == 64 || d.D == 128);
  if (flash) {
    if (d.D == 128) {
      if (var == 2) launchFlashFwd<128, 8, 1>(p);
      else if (var == 4) launchFlashFwd<128, 4, 2, 32>(p);
      else launchFlashFwd<128, 4, 2>(p);
    } else {
      if (var == 2) launchFlashFwd<64, 8, 1>(p);
      else if (var == 4) launchFlashFwd<64, 4, 2, 32>(p);
      else launchFlashFwd<64, 4, 2>(p);
    }
    return;
  }
  attnFwdGeneric<<<warpGrid(d.B * d.T * d.Hq), 256>>>(p);
  checkLaunch("attention (generic)");
}

void CudaBackend::attentionBackwardImpl(const Tensor& dout, const Tensor& q, const Tensor& k,
                                    const Tensor& v, const Tensor& keyMask, const Tensor& out,
                                    const Tensor& lse, float scale, int window, Tensor& dq,
                                    Tensor& dk, Tensor& dv) {
  Dims d = dims("attention_backward", q, k);
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
  attnBwdDqGeneric<<<warpGrid(d.B * d.T * d.Hq), 256>>>(p);
  checkLaunch("attention_backward (generic dq)");
  attnBwdDkvGeneric<<<warpGrid(d.B * d.T * d.Hkv), 256>>>(p);
  checkLaunch("attention_backward (generic dk/dv)");
}

}  // namespace plast
