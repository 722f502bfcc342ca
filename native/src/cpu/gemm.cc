// Linear layers on the CPU: a BLIS-style packed GEMM (MR x NR micro-kernel over packed panels,
// K blocked to stay in cache), compiled twice (AVX2+FMA and baseline) and picked at load time.
#include "cpu/gemm.h"

#include <algorithm>
#include <vector>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"
#include "cpu/float_access.h"

namespace plast {
namespace {

constexpr int MR = 6;
constexpr int NR = 16;
constexpr int64_t KC = 256;
constexpr int64_t MC = 72;
constexpr int64_t NC = 512;

typedef float v8 __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PLAST_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PLAST_CLONES
#endif

// c[MR x NR] (=|+=) a-panel · b-panel over kc; only the top-left mr x nr part is written.
PLAST_CLONES
void microKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                 bool overwrite) {
  v8 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = v8{0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t k = 0; k < kc; ++k) {
    v8 b0, b1;
    __builtin_memcpy(&b0, b, 32);
    __builtin_memcpy(&b1, b + 8, 32);
    for (int r = 0; r < MR; ++r) {
      float av = a[r];
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
    a += MR;
    b += NR;
  }
  alignas(32) float tile[MR][NR];
  for (int r = 0; r < MR; ++r) {
    __builtin_memcpy(&tile[r][0], &acc[r][0], 32);
    __builtin_memcpy(&tile[r][8], &acc[r][1], 32);
  }
  for (int r = 0; r < mr; ++r) {
    float* cr = c + r * ldc;
    if (overwrite)
      for (int j = 0; j < nr; ++j) cr[j] = tile[r][j];
    else
      for (int j = 0; j < nr; ++j) cr[j] += tile[r][j];
  }
}

// Ap: ceil(mc/MR) panels of [kc][MR], zero padded.
void packA(const MatRef& A, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* ap) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    int rows = static_cast<int>(std::min<int64_t>(MR, mc - ip));
    for (int64_t k = 0; k < kc; ++k) {
      float* dst = ap + k * MR;
      for (int r = 0; r < rows; ++r)
        dst[r] = loadF32(A.data, A.dtype, (i0 + ip + r) * A.rs + (p0 + k) * A.cs);
      for (int r = rows; r < MR; ++r) dst[r] = 0.f;
    }
    ap += kc * MR;
  }
}

// Bp: ceil(nc/NR) panels of [kc][NR], zero padded.
void packB(const MatRef& B, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* bp) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    int cols = static_cast<int>(std::min<int64_t>(NR, nc - jp));
    if (B.cs == 1 && B.dtype == DType::F32) {
      const float* src = static_cast<const float*>(B.data);
      for (int64_t k = 0; k < kc; ++k) {
        float* dst = bp + k * NR;
        const float* s = src + (p0 + k) * B.rs + j0 + jp;
        for (int c = 0; c < cols; ++c) dst[c] = s[c];
        for (int c = cols; c < NR; ++c) dst[c] = 0.f;
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        float* dst = bp + k * NR;
        for (int c = 0; c < cols; ++c)
          dst[c] = loadF32(B.data, B.dtype, (p0 + k) * B.rs + (j0 + jp + c) * B.cs);
        for (int c = cols; c < NR; ++c) dst[c] = 0.f;
      }
    }
    bp += kc * NR;
  }
}

void gemmBlock(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t P, const MatRef& A,
               const MatRef& B, float* C, int64_t ldc, bool accumulate) {
  thread_local std::vector<float> apBuf, bpBuf;
  apBuf.resize(static_cast<size_t>((MC + MR) * KC));
  bpBuf.resize(static_cast<size_t>((NC + NR) * KC));
  if (P == 0) {
    if (!accumulate)
      for (int64_t i = i0; i < i1; ++i) std::fill(C + i * ldc + j0, C + i * ldc + j1, 0.f);
    return;
  }
  for (int64_t pc = 0; pc < P; pc += KC) {
    int64_t kc = std::min(KC, P - pc);
    bool overwrite = (pc == 0) && !accumulate;
    for (int64_t jc = j0; jc < j1; jc += NC) {
      int64_t nc = std::min(NC, j1 - jc);
      packB(B, pc, kc, jc, nc, bpBuf.data());
      for (int64_t ic = i0; ic < i1; ic += MC) {
        int64_t mc = std::min(MC, i1 - ic);
        packA(A, ic, mc, pc, kc, apBuf.data());
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const float* bp = bpBuf.data() + (jr / NR) * kc * NR;
          int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const float* ap = apBuf.data() + (ir / MR) * kc * MR;
            int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            microKernel(kc, ap, bp, C + (ic + ir) * ldc + jc + jr, ldc, mr, nr, overwrite);
          }
        }
      }
    }
  }
}

}  // namespace

void gemmF32(int64_t I, int64_t J, int64_t P, const MatRef& A, const MatRef& B, float* C,
             int64_t ldc, bool accumulate) {
  if (I == 0 || J == 0) return;
  // Split the larger output dimension across threads in whole panels.
  if (J >= I) {
    int64_t panels = (J + NR - 1) / NR;
    parallelFor(panels, 4, [&](int64_t b, int64_t e) {
      gemmBlock(0, I, b * NR, std::min(J, e * NR), P, A, B, C, ldc, accumulate);
    });
  } else {
    int64_t panels = (I + MR - 1) / MR;
    parallelFor(panels, 4, [&](int64_t b, int64_t e) {
      gemmBlock(b * MR, std::min(I, e * MR), 0, J, P, A, B, C, ldc, accumulate);
    });
  }
}

void CpuBackend::linearImpl(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  int64_t N = x.dim(0), K = x.dim(1), M = w.dim(0);
  gemmF32(N, M, K, MatRef{x.data(), x.dtype, K, 1}, MatRef{w.data(), w.dtype, 1, K},
          y.ptr<float>(), M, false);
  if (bias) {
    float* yp = y.ptr<float>();
    const void* bp = bias->data();
    DType bt = bias->dtype;
    parallelFor(N, 64, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n)
        for (int64_t m = 0; m < M; ++m) yp[n * M + m] += loadF32(bp, bt, m);
    });
  }
}

void CpuBackend::linearBackwardInputImpl(const Tensor& dy, const Tensor& w, Tensor& dx,
                                     bool accumulate) {
  int64_t N = dy.dim(0), M = dy.dim(1), K = w.dim(1);
  gemmF32(N, K, M, MatRef{dy.data(), dy.dtype, M, 1}, MatRef{w.data(), w.dtype, K, 1},
          dx.ptr<float>(), K, accumulate);
}

void CpuBackend::linearBackwardWeightImpl(const Tensor& dy, const Tensor& x, Tensor& dw,
                                      Tensor* dbias) {
  int64_t N = dy.dim(0), M = dy.dim(1), K = x.dim(1);
  gemmF32(M, K, N, MatRef{dy.data(), dy.dtype, 1, M}, MatRef{x.data(), x.dtype, K, 1},
          dw.ptr<float>(), K, true);
  if (dbias) {
    const float* d = dy.ptr<float>();
    float* db = dbias->ptr<float>();
    parallelFor(M, 64, [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) s += d[n * M + m];
        db[m] += static_cast<float>(s);
      }
    });
  }
}

}  // namespace plast
