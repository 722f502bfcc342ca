// The tiled bf16 tensor-core GEMM shared by gemm.cu (the three linear ops) and swiglu.cu (the
// fused FFN up-projection): C[i, j] = sum_k A(i, k) * B(j, k), f32 accumulators.
//
//  - mma.sync.m16n8k16 (bf16 -> f32), operands fed by ldmatrix (.trans for MN-major storage)
//    from XOR-swizzled shared-memory tiles filled by cp.async (zero-filling tails), STAGES-deep
//    pipeline over BK = 32 slices of K.
//  - A(i, k) is stored K-major (A[i*lda + k]) or MN-major (A[k*lda + i]); likewise B(j, k).
//  - NB = 2 runs two B matrices (gate and up) over the same A tile: one kernel, two outputs.
//  - Rows/columns/K not multiples of the tile are handled by zero-filled loads and guarded stores;
//    when a leading dimension is not a multiple of 8 elements (16 bytes) the ALIGNED=false
//    instantiation loads element by element instead of cp.async.
//  - Epilogues: Bf16 (optional f32 bias, optional accumulate into C), F32Acc (C += in f32), and
//    Swiglu (h = silu(g) * u in bf16, optional g/u outputs, per-neuron gate > 0 counts over the
//    token mask: per-thread counts, quad shuffles, shared-memory atomics, one global atomic per
//    column and CTA).
#pragma once
#include <type_traits>

#include "cuda/common.cuh"

namespace plast {
namespace cuda {

enum class Epi { Bf16, F32Acc, Swiglu };

struct GemmParams {
  const bf16* A;
  int64_t lda;
  const bf16* B0;
  const bf16* B1;
  int64_t ldb;
  int M, N, K;
  void* C;  // Bf16: bf16 output; F32Acc: f32 accumulated output; Swiglu: h (bf16)
  int64_t ldc;
  const float* bias;  // Bf16: optional, per column
  int accumulate;     // Bf16: C += result
  bf16* G;            // Swiglu: optional gate/up outputs (bf16, ldc)
  bf16* U;
  const int32_t* mask;            // Swiglu: token mask for counting (with counts)
  unsigned long long* counts;     // Swiglu: per-column counts (int64 storage)
};

template <int BM_, int BN_, int BK_, int WARPS_M_, int WARPS_N_, int STAGES_, int NB_>
struct TileCfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_;
  static constexpr int STAGES = STAGES_, NB = NB_;
  static constexpr int THREADS = WARPS_M * WARPS_N * 32;
  static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  static constexpr int MI = WM / 16, NI = WN / 8;
  static constexpr int A_ELEMS = BM * BK, B_ELEMS = BN * BK;
  static constexpr int STAGE_ELEMS = A_ELEMS + NB * B_ELEMS;
  static constexpr int SMEM = STAGES * STAGE_ELEMS * 2;
  static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tile must be whole 16x16 blocks");
  static_assert(BK % 16 == 0, "BK must be a multiple of 16");
};

// Loads a ROWS x BK slice (rows row0.., k0..) of a K-major or MN-major operand into shared memory.
template <int ROWS, int BK, int THREADS, bool KMAJ, bool ALIGNED>
__device__ __forceinline__ void loadTile(bf16* s, const bf16* __restrict__ g, int64_t ld, int row0,
                                         int rowLimit, int k0, int K) {
  constexpr int CPR = KMAJ ? BK / 8 : ROWS / 8;  // 16-byte chunks per smem row
  constexpr int TOTAL = KMAJ ? ROWS * CPR : BK * CPR;
  constexpr int ITERS = (TOTAL + THREADS - 1) / THREADS;
  using S = typename std::conditional<KMAJ, Swz<ROWS, BK>, Swz<BK, ROWS>>::type;
#pragma unroll
  for (int it = 0; it < ITERS; ++it) {
    int id = it * THREADS + threadIdx.x;
    if (TOTAL % THREADS != 0 && id >= TOTAL) break;
    int sr = id / CPR, c = id % CPR;
    int gr, gk;       // first element of the chunk: (row gr, k gk), 8 along k (KMAJ) or rows
    int nValid;       // elements of the chunk inside the matrix
    if (KMAJ) {
      gr = row0 + sr;
      gk = k0 + c * 8;
      nValid = gr < rowLimit ? max(0, min(8, K - gk)) : 0;
    } else {
      gk = k0 + sr;
      gr = row0 + c * 8;
      nValid = gk < K ? max(0, min(8, rowLimit - gr)) : 0;
    }
    bf16* dst = s + S::off(sr, c);
    const bf16* src = KMAJ ? g + static_cast<int64_t>(gr) * ld + gk : g + static_cast<int64_t>(gk) * ld + gr;
    if (ALIGNED) {
      cpAsync16(smemAddr(dst), nValid > 0 ? src : g, nValid * 2);
    } else {
      const unsigned short* s16 = reinterpret_cast<const unsigned short*>(src);
      uint32_t w[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        uint32_t lo = (2 * e < nValid) ? __ldg(s16 + 2 * e) : 0u;
        uint32_t hi = (2 * e + 1 < nValid) ? __ldg(s16 + 2 * e + 1) : 0u;
        w[e] = lo | (hi << 16);
      }
      *reinterpret_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
    }
  }
}

template <class C, bool AK, bool BKM, bool ALIGNED>
__device__ __forceinline__ void gemmMainloop(const GemmParams& p, int m0, int n0, bf16* smem,
                                             float (&acc)[C::NB][C::MI][C::NI][4]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm0 = (warp / C::WARPS_N) * C::WM, wn0 = (warp % C::WARPS_N) * C::WN;
  using SA = typename std::conditional<AK, Swz<C::BM, C::BK>, Swz<C::BK, C::BM>>::type;
  using SB = typename std::conditional<BKM, Swz<C::BN, C::BK>, Swz<C::BK, C::BN>>::type;
#pragma unroll
  for (int nb = 0; nb < C::NB; ++nb)
#pragma unroll
    for (int mi = 0; mi < C::MI; ++mi)
#pragma unroll
      for (int ni = 0; ni < C::NI; ++ni)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[nb][mi][ni][e] = 0.f;

  const int KT = (p.K + C::BK - 1) / C::BK;
  auto load = [&](int stage, int kt) {
    bf16* base = smem + stage * C::STAGE_ELEMS;
    int k0 = kt * C::BK;
    loadTile<C::BM, C::BK, C::THREADS, AK, ALIGNED>(base, p.A, p.lda, m0, p.M, k0, p.K);
    loadTile<C::BN, C::BK, C::THREADS, BKM, ALIGNED>(base + C::A_ELEMS, p.B0, p.ldb, n0, p.N, k0, p.K);
    if (C::NB == 2)
      loadTile<C::BN, C::BK, C::THREADS, BKM, ALIGNED>(base + C::A_ELEMS + C::B_ELEMS, p.B1, p.ldb,
                                                       n0, p.N, k0, p.K);
  };
#pragma unroll
  for (int s = 0; s < C::STAGES - 1; ++s) {
    if (s < KT) load(s, s);
    cpAsyncCommit();
  }
  for (int kt = 0; kt < KT; ++kt) {
    cpAsyncWait<C::STAGES - 2>();
    __syncthreads();
    int nk = kt + C::STAGES - 1;
    if (nk < KT) load(nk % C::STAGES, nk);
    cpAsyncCommit();
    const bf16* sA = smem + (kt % C::STAGES) * C::STAGE_ELEMS;
#pragma unroll
    for (int ks = 0; ks < C::BK / 16; ++ks) {
      uint32_t af[C::MI][4];
#pragma unroll
      for (int mi = 0; mi < C::MI; ++mi) {
        if (AK)
          ldsm4(af[mi], smemAddr(sA + SA::off(wm0 + mi * 16 + (lane & 15), ks * 2 + (lane >> 4))));
        else
          ldsm4t(af[mi], smemAddr(sA + SA::off(ks * 16 + (lane & 7) + (lane >> 4) * 8,
                                               (wm0 + mi * 16) / 8 + ((lane >> 3) & 1))));
      }
#pragma unroll
      for (int nb = 0; nb < C::NB; ++nb) {
        const bf16* sB = sA + C::A_ELEMS + nb * C::B_ELEMS;
        uint32_t bfr[C::NI][2];
#pragma unroll
        for (int ni = 0; ni < C::NI; ni += 2) {
          uint32_t r[4];
          if (BKM)
            ldsm4(r, smemAddr(sB + SB::off(wn0 + ni * 8 + (lane & 7) + (lane >> 4) * 8,
                                           ks * 2 + ((lane >> 3) & 1))));
          else
            ldsm4t(r, smemAddr(sB + SB::off(ks * 16 + (lane & 7) + ((lane >> 3) & 1) * 8,
                                            (wn0 + ni * 8) / 8 + (lane >> 4))));
          bfr[ni][0] = r[0];
          bfr[ni][1] = r[1];
          bfr[ni + 1][0] = r[2];
          bfr[ni + 1][1] = r[3];
        }
#pragma unroll
        for (int mi = 0; mi < C::MI; ++mi)
#pragma unroll
          for (int ni = 0; ni < C::NI; ++ni) mma16816(acc[nb][mi][ni], af[mi], bfr[ni][0], bfr[ni][1]);
      }
    }
  }
  cpAsyncWait<0>();
  __syncthreads();  // the epilogue may reuse shared memory
}

__device__ __forceinline__ float siluF(float x) { return x / (1.0f + __expf(-x)); }

// ---- epilogue pieces shared by the mma.sync kernel here and the sm_90 wgmma kernel ----
// Every thread owns pairs of adjacent columns (j, j+1) of its rows (the mma accumulator layout).

template <Epi E>
__device__ __forceinline__ bool epiVector(const GemmParams& p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p.C);
  if (E == Epi::F32Acc) return p.ldc % 2 == 0 && (a & 7) == 0;
  bool v = p.ldc % 2 == 0 && (a & 3) == 0;
  if (E == Epi::Swiglu)
    v = v && (reinterpret_cast<uintptr_t>(p.G) & 3) == 0 && (reinterpret_cast<uintptr_t>(p.U) & 3) == 0;
  return v;
}

// bf16 C[i, j..j+1] = (C +) v (+ bias); j < N is known.
__device__ __forceinline__ void epiBf16Pair(const GemmParams& p, int i, int j, float v0, float v1, bool vec) {
  bf16* c = static_cast<bf16*>(p.C) + static_cast<int64_t>(i) * p.ldc + j;
  if (p.bias) {
    v0 += p.bias[j];
    if (j + 1 < p.N) v1 += p.bias[j + 1];
  }
  if (j + 1 < p.N && vec) {
    if (p.accumulate) {
      float2 o = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(c));
      v0 += o.x;
      v1 += o.y;
    }
    *reinterpret_cast<__nv_bfloat162*>(c) = __floats2bfloat162_rn(v0, v1);
  } else {
    if (p.accumulate) v0 += __bfloat162float(c[0]);
    c[0] = __float2bfloat16_rn(v0);
    if (j + 1 < p.N) {
      if (p.accumulate) v1 += __bfloat162float(c[1]);
      c[1] = __float2bfloat16_rn(v1);
    }
  }
}

// f32 C[i, j..j+1] += v; j < N is known.
__device__ __forceinline__ void epiF32AccPair(const GemmParams& p, int i, int j, float v0, float v1, bool vec) {
  float* c = static_cast<float*>(p.C) + static_cast<int64_t>(i) * p.ldc + j;
  if (j + 1 < p.N && vec) {
    float2 o = *reinterpret_cast<float2*>(c);
    o.x += v0;
    o.y += v1;
    *reinterpret_cast<float2*>(c) = o;
  } else {
    c[0] += v0;
    if (j + 1 < p.N) c[1] += v1;
  }
}

// h = silu(g) u (and g, u) for the pair; cnt0/cnt1 += (g > 0) when `counted`. The gate value that
// is counted is exactly the bf16 value written to G.
__device__ __forceinline__ void epiSwigluPair(const GemmParams& p, int i, int j, float ga, float gb, float ua,
                                              float ub, bool vec, bool counted, int& cnt0, int& cnt1) {
  const int64_t o = static_cast<int64_t>(i) * p.ldc + j;
  bf16* H = static_cast<bf16*>(p.C);
  __nv_bfloat162 g2 = __floats2bfloat162_rn(ga, gb);
  __nv_bfloat162 u2 = __floats2bfloat162_rn(ua, ub);
  float2 g = __bfloat1622float2(g2), u = __bfloat1622float2(u2);
  __nv_bfloat162 h2 = __floats2bfloat162_rn(siluF(g.x) * u.x, siluF(g.y) * u.y);
  const bool two = j + 1 < p.N;
  if (counted) {
    cnt0 += g.x > 0.f;
    cnt1 += two && g.y > 0.f;
  }
  if (two && vec) {
    *reinterpret_cast<__nv_bfloat162*>(H + o) = h2;
    if (p.G) *reinterpret_cast<__nv_bfloat162*>(p.G + o) = g2;
    if (p.U) *reinterpret_cast<__nv_bfloat162*>(p.U + o) = u2;
  } else {
    H[o] = h2.x;
    if (p.G) p.G[o] = g2.x;
    if (p.U) p.U[o] = u2.x;
    if (two) {
      H[o + 1] = h2.y;
      if (p.G) p.G[o + 1] = g2.y;
      if (p.U) p.U[o + 1] = u2.y;
    }
  }
}

// Per-thread column counts -> shared counters: lanes with the same (lane & 3) hold the same
// columns (colBase + ni*8 + (lane&3)*2 + e), so a 3-step shuffle reduces over the warp's rows.
template <int NI>
__device__ __forceinline__ void epiCountsToShared(int (&cnt)[NI][2], int* sCnt, int colBase, int lane) {
#pragma unroll
  for (int ni = 0; ni < NI; ++ni)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      int v = cnt[ni][e];
      v += __shfl_xor_sync(0xffffffffu, v, 4);
      v += __shfl_xor_sync(0xffffffffu, v, 8);
      v += __shfl_xor_sync(0xffffffffu, v, 16);
      if (lane < 4 && v) atomicAdd(&sCnt[colBase + ni * 8 + lane * 2 + e], v);
    }
}

// One global atomic per column and CTA.
__device__ __forceinline__ void epiCountsFlush(const GemmParams& p, const int* sCnt, int n0, int BN, int threads) {
  for (int t = threadIdx.x; t < BN; t += threads) {
    int j = n0 + t;
    if (j < p.N && sCnt[t]) atomicAdd(p.counts + j, static_cast<unsigned long long>(sCnt[t]));
  }
}

// Grouped rasterisation: GROUP row-tiles share the column tiles in flight (L2 reuse).
__device__ __forceinline__ void tileCoords(int M, int N, int BM, int BN, int& m0, int& n0) {
  const int tilesM = (M + BM - 1) / BM, tilesN = (N + BN - 1) / BN;
  constexpr int GROUP = 8;
  const int pid = blockIdx.x;
  const int perGroup = GROUP * tilesN;
  const int firstM = (pid / perGroup) * GROUP;
  const int gsz = min(tilesM - firstM, GROUP);
  m0 = (firstM + (pid % perGroup) % gsz) * BM;
  n0 = ((pid % perGroup) / gsz) * BN;
}

template <class C, bool AK, bool BKM, bool ALIGNED, Epi E>
__global__ void __launch_bounds__(C::THREADS) gemmKernel(const GemmParams p) {
  extern __shared__ __align__(128) unsigned char smemRaw[];
  bf16* smem = reinterpret_cast<bf16*>(smemRaw);
  int m0, n0;
  tileCoords(p.M, p.N, C::BM, C::BN, m0, n0);

  float acc[C::NB][C::MI][C::NI][4];
  gemmMainloop<C, AK, BKM, ALIGNED>(p, m0, n0, smem, acc);

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm0 = (warp / C::WARPS_N) * C::WM, wn0 = (warp % C::WARPS_N) * C::WN;
  const bool vec = epiVector<E>(p);
  int* sCnt = reinterpret_cast<int*>(smemRaw);
  const bool counting = E == Epi::Swiglu && p.counts != nullptr;
  if (counting) {
    for (int t = threadIdx.x; t < C::BN; t += C::THREADS) sCnt[t] = 0;
    __syncthreads();
  }
  int cnt[C::NI][2];
#pragma unroll
  for (int ni = 0; ni < C::NI; ++ni) cnt[ni][0] = cnt[ni][1] = 0;
#pragma unroll
  for (int mi = 0; mi < C::MI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      int i = m0 + wm0 + mi * 16 + (lane >> 2) + h * 8;
      if (i >= p.M) continue;
      const bool counted = counting && p.mask[i] != 0;
#pragma unroll
      for (int ni = 0; ni < C::NI; ++ni) {
        int j = n0 + wn0 + ni * 8 + (lane & 3) * 2;
        if (j >= p.N) continue;
        if constexpr (E == Epi::Bf16)
          epiBf16Pair(p, i, j, acc[0][mi][ni][2 * h], acc[0][mi][ni][2 * h + 1], vec);
        else if constexpr (E == Epi::F32Acc)
          epiF32AccPair(p, i, j, acc[0][mi][ni][2 * h], acc[0][mi][ni][2 * h + 1], vec);
        else
          epiSwigluPair(p, i, j, acc[0][mi][ni][2 * h], acc[0][mi][ni][2 * h + 1], acc[C::NB - 1][mi][ni][2 * h],
                        acc[C::NB - 1][mi][ni][2 * h + 1], vec, counted, cnt[ni][0], cnt[ni][1]);
      }
    }
  if (counting) {
    epiCountsToShared<C::NI>(cnt, sCnt, wn0, lane);
    __syncthreads();
    epiCountsFlush(p, sCnt, n0, C::BN, C::THREADS);
  }
}

template <class C, bool AK, bool BKM, bool ALIGNED, Epi E>
void launchGemm(const GemmParams& p, const char* name) {
  auto kernel = gemmKernel<C, AK, BKM, ALIGNED, E>;
  static const bool ready = (ensureSmem(kernel, C::SMEM), true);
  (void)ready;
  int64_t tiles = ceilDiv(p.M, C::BM) * ceilDiv(p.N, C::BN);
  if (tiles == 0) return;
  kernel<<<static_cast<unsigned>(tiles), C::THREADS, C::SMEM>>>(p);
  checkLaunch(name);
}

}  // namespace cuda
}  // namespace plast
