// The backend interface. The CPU backend (float32 math) is the reference; others are checked
// against it op by op (native/tests). Shapes are validated by the caller-facing wrappers in
// src/common/checks; backends may assume well-formed, contiguous tensors of their own.
//
// Conventions
//  - activations use activationDType() (f32 on CPU, bf16 on CUDA); weights may be bf16/f16/f32;
//    weight gradients, masters and moments are f32; saved statistics (rstd, lse) are f32.
//  - "accumulate" outputs add into what is there; others overwrite.
//  - ids, positions, masks, labels are i32; counts are i64.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "plast/ops.h"
#include "plast/tensor.h"

namespace plast {

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;
  virtual std::string deviceDescription() const = 0;
  virtual bool supportsOp(Op op, DType dtype) const = 0;
  virtual DType activationDType() const = 0;

  // --- memory ---
  virtual Tensor empty(const Shape& shape, DType dtype) = 0;
  Tensor zeros(const Shape& shape, DType dtype);
  virtual void zero(Tensor& t) = 0;
  virtual void upload(Tensor& dst, const void* host) = 0;          // dst.nbytes() from host
  virtual void download(const Tensor& src, void* host) = 0;        // src.nbytes() to host
  // A weight from host memory (e.g. an mmapped checkpoint). `keepAlive` owns that memory; a
  // backend may reference it without copying (CPU) or upload and convert it (CUDA: to bf16).
  virtual Tensor loadWeight(const void* host, const Shape& shape, DType dtype,
                            std::shared_ptr<void> keepAlive) = 0;
  virtual void cast(const Tensor& src, Tensor& dst) = 0;  // same numel, any float dtypes
  virtual void synchronize() {}
  virtual size_t bytesInUse() const = 0;
  virtual size_t peakBytes() const = 0;
  virtual void resetPeak() = 0;

  // --- ops ---
  // out[n,:] = table[ids[n],:]
  virtual void embedding(const Tensor& table, const Tensor& ids, Tensor& out) = 0;
  // y = x / sqrt(mean(x^2) + eps) * w ; rstd[n] = 1/sqrt(mean(x^2)+eps)
  virtual void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& y, Tensor* rstd) = 0;
  // dx (= or += when accumulateDx), dw += (f32)
  virtual void rmsnormBackward(const Tensor& dy, const Tensor& x, const Tensor& w,
                               const Tensor& rstd, Tensor& dx, bool accumulateDx, Tensor* dw) = 0;
  // y[N,M] = x[N,K] · w[M,K]^T (+ bias[M])
  virtual void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) = 0;
  // dx[N,K] (= or +=) dy[N,M] · w[M,K]
  virtual void linearBackwardInput(const Tensor& dy, const Tensor& w, Tensor& dx,
                                   bool accumulate) = 0;
  // dw[M,K] += dy^T · x (f32); dbias[M] += sum_n dy (f32)
  virtual void linearBackwardWeight(const Tensor& dy, const Tensor& x, Tensor& dw,
                                    Tensor* dbias) = 0;
  // In place on x[N,H,D]: HF rotate_half RoPE at positions[N] with invFreq[D/2] (f32), outputs
  // scaled by attnScaling. inverse=true applies the transpose (the backward pass).
  virtual void rope(Tensor& x, const Tensor& positions, const Tensor& invFreq, float attnScaling,
                    bool inverse) = 0;
  // Causal attention, GQA (Hq % Hkv == 0). q[B,T,Hq,D], k/v[B,T,Hkv,D], keyMask[B,T] (0 = pad
  // key), window > 0 limits to keys with i - j < window. out[B,T,Hq,D], lse[B,Hq,T] (f32, natural
  // log of the softmax denominator of scaled scores; -inf where a query sees no key, out = 0).
  virtual void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& keyMask,
                         float scale, int window, Tensor& out, Tensor* lse) = 0;
  virtual void attentionBackward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                 const Tensor& v, const Tensor& keyMask, const Tensor& out,
                                 const Tensor& lse, float scale, int window, Tensor& dq,
                                 Tensor& dk, Tensor& dv) = 0;
  // h = silu(g) * u. counts[I] (i64) += number of rows n with countMask[n] != 0 and g[n,j] > 0.
  virtual void swiglu(const Tensor& g, const Tensor& u, const Tensor* countMask, Tensor* counts,
                      Tensor& h) = 0;
  virtual void swigluBackward(const Tensor& dh, const Tensor& g, const Tensor& u, Tensor& dg,
                              Tensor& du) = 0;
  // Fused FFN up-projection: g = x·wg^T, u = x·wu^T, h = swiglu(g, u) with counting.
  // gOut/uOut (optional) receive g and u for the backward pass. Default: composed from the above.
  virtual void ffnUp(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor* countMask,
                     Tensor* counts, Tensor& h, Tensor* gOut, Tensor* uOut);
  // Per-row cross-entropy of logits[P,V] against labels[P] (-100 = ignored: loss 0, grad 0).
  // losses[P] f32; dlogits (optional, act dtype) = (softmax - onehot) * gradScale.
  virtual void crossEntropy(const Tensor& logits, const Tensor& labels, float gradScale,
                            Tensor& losses, Tensor* dlogits) = 0;
  // out = a + b (out may alias a or b)
  virtual void add(const Tensor& a, const Tensor& b, Tensor& out) = 0;
  // out[p,:] = x[idx[p],:]
  virtual void gather(const Tensor& x, const Tensor& idx, Tensor& out) = 0;
  // dx[idx[p],:] += dy[p,:]
  virtual void scatterAdd(const Tensor& dy, const Tensor& idx, Tensor& dx) = 0;
  // One AdamW update over many tensors (multi-tensor on CUDA).
  virtual void adamw(const std::vector<AdamWSlot>& slots, const AdamWParams& p) = 0;
  // Sum of squares over all elements of all tensors, accumulated in double where possible.
  virtual double sumSquares(const std::vector<Tensor>& xs) = 0;
};

struct BackendInfo {
  std::string name;
  bool available = false;
  std::string reason;  // why not, when unavailable
  std::string device;  // description, when available
};

// All backends this build knows, available or not, with the reason for each that is not.
std::vector<BackendInfo> listBackends();
// "cpu", "cuda", or "auto" (CUDA when available, else CPU). Throws NoDevice listing every
// backend tried and why it failed.
Backend* getBackend(const std::string& name);

}  // namespace plast
