// Flash-attention-2 style forward for head dims 64 and 128 (see attention.cuh), and the
// backend's attention op, which picks the flash or the generic kernel.
#include "cuda/attention.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

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

}  // namespace
}  // namespace cuda

using namespace cuda;

void CudaBackend::attentionImpl(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& keyMask,
                            float scale, AttnMask mask, Tensor& out, Tensor* lse) {
  Dims d = dims("attention", q, k, mask);
  int window = mask.window;
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
  genericForward(p);
}

}  // namespace plast
