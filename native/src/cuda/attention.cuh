// Causal attention on CUDA, shared by the three kernel files: the parameter block, the limits,
// and the launchers each file exports.
//   attention_fwd.cu      flash forward (head dims 64, 128) and CudaBackend::attentionImpl
//   attention_bwd.cu      flash backward and CudaBackend::attentionBackwardImpl
//   attention_generic.cu  any head dim up to 256 (most test models use 16; qwen2-hd64 and mistral-hd128 reach the flash kernels)
//
// Causal attention with GQA, key padding masks and an optional sliding window.
//
// Head dims 64 and 128 run flash-attention-2 style tensor-core kernels (a static switch turns the
// runtime head dim into a template parameter): the forward keeps the running max / sum per query
// row in registers (online softmax in the log2 domain) and never writes the score matrix; the
// backward recomputes probabilities from the saved log-sum-exp, one CTA per 64-key block and KV
// head looping over the group's query heads (dk, dv in registers), dq accumulated by f32 atomics.
// Other head dims (most test models use 16) run the generic kernels: one warp per
// query row (forward, dq) or per key (dk, dv), f32 throughout.
#pragma once
#include <cmath>

#include "cuda/common.cuh"

namespace plast {
namespace cuda {

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

// The generic kernels keep up to this many head-dim elements per lane in registers.
constexpr int kGenMaxPerLane = 8;

inline unsigned warpGrid(int64_t warps) { return static_cast<unsigned>(ceilDiv(warps * 32, 256)); }

struct Dims {
  int64_t B, T, Hq, Hkv, D;
};

// The shapes were checked by the caller (native/src/ops/attention.cc); these are the limits of
// this backend's kernels.
inline Dims dims(const char* op, const Tensor& q, const Tensor& k, const AttnMask& mask) {
  Dims d{q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3)};
  PLAST_CHECK(mask.causal, Code::Unsupported,
              op << ": full (bidirectional) attention is not implemented on the cuda backend yet "
                    "(the cpu backend has it)");
  PLAST_CHECK(d.D <= 32 * kGenMaxPerLane, Code::Unsupported,
              op << ": head dim " << d.D << " is above the CUDA backend's limit of " << 32 * kGenMaxPerLane);
  PLAST_CHECK(d.B < 65536 && d.Hq < 65536 && d.T < (1ll << 30), Code::Shape, op << ": shape too large");
  return d;
}

inline AttnParams makeParams(const Dims& d, const Tensor& q, const Tensor& k, const Tensor& v,
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


// attention_generic.cu: one warp per query row (forward, dq) or per key (dk, dv), f32 throughout.
void genericForward(const AttnParams& p);
void genericBackward(const AttnParams& p);  // needs p.Dd

}  // namespace cuda
}  // namespace plast
