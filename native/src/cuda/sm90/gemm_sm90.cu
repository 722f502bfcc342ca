// Hopper path of the GEMM family (compiled for sm_90a only; see CMakeLists.txt): warpgroup MMA
// (wgmma.mma_async m64n128k16, bf16 -> f32) reading both operands straight from shared memory
// through matrix descriptors. Tiles are filled by cp.async in the 128-byte-swizzled K-major layout
// wgmma expects (the same XOR swizzle as Swz<ROWS, 64>, tile bases 1024-byte aligned), 4 stages of
// BK = 64. Two consumer warpgroups each own 64 rows of a 128-row tile; every warpgroup issues two
// m64n128 products per k16 slice: the two halves of a 256-column tile (linear), or the gate and
// up tiles of the same 128 neurons (fused FFN). Epilogues are those of gemm.cuh.
// Used for K-major x K-major problems (linear forward, FFN up-projection) on compute capability 9.0.
#include "cuda/gemm.cuh"
#include "cuda/sm90/gemm_sm90.h"

namespace plast {
namespace cuda {

// ================================ kernels ================================

namespace {

constexpr int kBM = 128, kBK = 64, kThreads = 256, kAEl = kBM * kBK;
// HN: columns per wgmma (64 or 128); each CTA runs two such parts. Shared memory per stage:
// A 128x64 + B 2*HN x 64 (bf16).
template <int HN, int STAGES>
struct WgCfg {
  static constexpr int BEl = 2 * HN * kBK, StageEl = kAEl + BEl;
  static constexpr int SMEM = STAGES * StageEl * 2 + 1024;  // + alignment slack
};

__device__ __forceinline__ uint64_t sw128Desc(const bf16* p) {
  uint32_t a = smemAddr(p);
  uint64_t d = 0;
  d |= static_cast<uint64_t>((a & 0x3FFFF) >> 4);  // start address
  d |= static_cast<uint64_t>(1) << 16;             // leading byte offset (unused for swizzled K-major)
  d |= static_cast<uint64_t>(1024 >> 4) << 32;     // stride byte offset: 8 rows x 128 B
  d |= static_cast<uint64_t>(1) << 62;             // 128-byte swizzle
  return d;
}

__device__ __forceinline__ void fenceProxyAsync() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void wgmmaFence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
template <int N>
__device__ __forceinline__ void fenceRegs(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// d[64x128 per warpgroup] += A(smem desc) * B(smem desc)^T, bf16 in, f32 accumulate, both K-major.
__device__ __forceinline__ void wgmma64xN(float (&d)[64], uint64_t descA, uint64_t descB) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(descA), "l"(descB), "r"(1));
}


__device__ __forceinline__ void wgmma64xN(float (&d)[32], uint64_t descA, uint64_t descB) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(descA), "l"(descB), "r"(1));
}
}  // namespace

// NB = 1: one B of 2*HN rows (a 128 x 2HN output tile); NB = 2: two B of HN rows (gate, up).
template <int NB, int HN, int STAGES, Epi E>
__global__ void __launch_bounds__(kThreads, HN == 64 ? 2 : 1) wgmmaGemmKernel(const GemmParams p) {
  using W = WgCfg<HN, STAGES>;
  constexpr int BN = NB == 2 ? HN : 2 * HN;  // output columns per CTA
  constexpr int kStages = STAGES, kStageEl = W::StageEl;
  extern __shared__ unsigned char raw[];
  bf16* smem = reinterpret_cast<bf16*>((reinterpret_cast<uintptr_t>(raw) + 1023) & ~uintptr_t(1023));
  int m0, n0;
  tileCoords(p.M, p.N, kBM, BN, m0, n0);
  const int wg = threadIdx.x / 128, wq = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
  const int KT = (p.K + kBK - 1) / kBK;

  auto load = [&](int stage, int kt) {
    bf16* base = smem + stage * kStageEl;
    int k0 = kt * kBK;
    loadTile<kBM, kBK, kThreads, true, true>(base, p.A, p.lda, m0, p.M, k0, p.K);
    if (NB == 1) {
      loadTile<2 * HN, kBK, kThreads, true, true>(base + kAEl, p.B0, p.ldb, n0, p.N, k0, p.K);
    } else {
      loadTile<HN, kBK, kThreads, true, true>(base + kAEl, p.B0, p.ldb, n0, p.N, k0, p.K);
      loadTile<HN, kBK, kThreads, true, true>(base + kAEl + HN * kBK, p.B1, p.ldb, n0, p.N, k0, p.K);
    }
  };

  float acc[2][HN / 2];
#pragma unroll
  for (int h = 0; h < 2; ++h)
#pragma unroll
    for (int i = 0; i < HN / 2; ++i) acc[h][i] = 0.f;
  fenceRegs(acc[0]);
  fenceRegs(acc[1]);

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < KT) load(s, s);
    cpAsyncCommit();
  }
  for (int kt = 0; kt < KT; ++kt) {
    cpAsyncWait<kStages - 2>();
    fenceProxyAsync();  // cp.async (generic proxy) writes -> wgmma (async proxy) reads
    __syncthreads();
    const bf16* sA = smem + (kt % kStages) * kStageEl + wg * 64 * kBK;
    const bf16* sB = smem + (kt % kStages) * kStageEl + kAEl;
    uint64_t dA = sw128Desc(sA), dB0 = sw128Desc(sB), dB1 = sw128Desc(sB + HN * kBK);
    wgmmaFence();
#pragma unroll
    for (int k16 = 0; k16 < kBK / 16; ++k16) {
      wgmma64xN(acc[0], dA + 2 * k16, dB0 + 2 * k16);  // +32 bytes per k16 slice
      wgmma64xN(acc[1], dA + 2 * k16, dB1 + 2 * k16);
    }
    wgmmaCommit();
    wgmmaWait<1>();   // this warpgroup's products of the previous tile are done ...
    __syncthreads();  // ... and the other's: its stage can be refilled
    int nk = kt + kStages - 1;
    if (nk < KT) load(nk % kStages, nk);
    cpAsyncCommit();
  }
  wgmmaWait<0>();
  fenceRegs(acc[0]);
  fenceRegs(acc[1]);
  cpAsyncWait<0>();
  __syncthreads();

  // Accumulator layout (per warpgroup, like mma.sync per 16 rows): warp wq owns rows wq*16..+15;
  // acc[h][ni*4 + e]: row lane/4 (+8 for e >= 2), column ni*8 + (lane%4)*2 + (e&1).
  const bool vec = epiVector<E>(p);
  int* sCnt = reinterpret_cast<int*>(smem);
  const bool counting = E == Epi::Swiglu && p.counts != nullptr;
  if (counting) {
    for (int t = threadIdx.x; t < BN; t += kThreads) sCnt[t] = 0;
    __syncthreads();
  }
  constexpr int NT8 = HN / 8;  // 8-column tiles per part
  int cnt[NT8][2];
#pragma unroll
  for (int ni = 0; ni < NT8; ++ni) cnt[ni][0] = cnt[ni][1] = 0;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    int i = m0 + wg * 64 + wq * 16 + (lane >> 2) + h * 8;
    if (i >= p.M) continue;
    const bool counted = counting && p.mask[i] != 0;
#pragma unroll
    for (int ni = 0; ni < NT8; ++ni) {
      if constexpr (E == Epi::Swiglu) {
        int j = n0 + ni * 8 + (lane & 3) * 2;
        if (j >= p.N) continue;
        epiSwigluPair(p, i, j, acc[0][ni * 4 + 2 * h], acc[0][ni * 4 + 2 * h + 1], acc[1][ni * 4 + 2 * h],
                      acc[1][ni * 4 + 2 * h + 1], vec, counted, cnt[ni][0], cnt[ni][1]);
      } else {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          int j = n0 + half * HN + ni * 8 + (lane & 3) * 2;
          if (j >= p.N) continue;
          epiBf16Pair(p, i, j, acc[half][ni * 4 + 2 * h], acc[half][ni * 4 + 2 * h + 1], vec);
        }
      }
    }
  }
  if (counting) {
    epiCountsToShared<NT8>(cnt, sCnt, 0, lane);
    __syncthreads();
    epiCountsFlush(p, sCnt, n0, BN, kThreads);
  }
}

// ================================ launchers ================================

namespace {
template <int NB, int HN, int STAGES, Epi E>
void launchWgmma(const GemmParams& p, const char* name) {
  auto kernel = wgmmaGemmKernel<NB, HN, STAGES, E>;
  constexpr int smem = WgCfg<HN, STAGES>::SMEM;
  static const bool ready = (ensureSmem(kernel, smem), true);
  (void)ready;
  int64_t tiles = ceilDiv(p.M, kBM) * ceilDiv(p.N, NB == 2 ? HN : 2 * HN);
  if (tiles == 0) return;
  kernel<<<static_cast<unsigned>(tiles), kThreads, smem>>>(p);
  checkLaunch(name);
}
bool usable(const GemmParams& p) {
  auto al = [](const void* q) { return (reinterpret_cast<uintptr_t>(q) & 15) == 0; };
  const DeviceInfo& d = deviceInfo();
  return d.major == 9 && d.minor == 0 && p.lda % 8 == 0 && p.ldb % 8 == 0 && al(p.A) && al(p.B0) &&
         (!p.B1 || al(p.B1)) && d.smemOptin >= static_cast<size_t>(WgCfg<128, 4>::SMEM);
}
}  // namespace

bool wgmmaLinear(const GemmParams& p, const char* name, bool small) {
  if (!usable(p)) return false;
  if (small)
    launchWgmma<1, 64, 3, Epi::Bf16>(p, name);  // 128x128 tiles, two CTAs per SM
  else
    launchWgmma<1, 128, 4, Epi::Bf16>(p, name);  // 128x256 tiles
  return true;
}

bool wgmmaFfnUp(const GemmParams& p, const char* name, bool small) {
  if (!usable(p)) return false;
  if (small)
    launchWgmma<2, 64, 3, Epi::Swiglu>(p, name);  // 128 tokens x 64 neurons (x2), two CTAs per SM
  else
    launchWgmma<2, 128, 4, Epi::Swiglu>(p, name);  // 128 tokens x 128 neurons (x2)
  return true;
}

}  // namespace cuda
}  // namespace plast
