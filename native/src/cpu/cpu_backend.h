// The CPU backend: float32 math, multi-threaded, the reference every other backend is checked
// against. Activations are f32; weights may be bf16/f16/f32 (widened on the fly).
#pragma once
#include <atomic>

#include "plast/backend.h"

namespace plast {

class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::string deviceDescription() const override;
  bool supportsOp(Op op, DType dtype) const override;
  DType activationDType() const override { return DType::F32; }

  Tensor empty(const Shape& shape, DType dtype) override;
  void zero(Tensor& t) override;
  void upload(Tensor& dst, const void* host) override;
  void download(const Tensor& src, void* host) override;
  Tensor loadWeight(const void* host, const Shape& shape, DType dtype,
                    std::shared_ptr<void> keepAlive) override;
  void cast(const Tensor& src, Tensor& dst) override;
  size_t bytesInUse() const override { return inUse_.load(); }
  size_t peakBytes() const override { return peak_.load(); }
  void resetPeak() override { peak_.store(inUse_.load()); }

  void embedding(const Tensor& table, const Tensor& ids, Tensor& out) override;
  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor& y, Tensor* rstd) override;
  void rmsnormBackward(const Tensor& dy, const Tensor& x, const Tensor& w, const Tensor& rstd,
                       Tensor& dx, bool accumulateDx, Tensor* dw) override;
  void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) override;
  void linearBackwardInput(const Tensor& dy, const Tensor& w, Tensor& dx,
                           bool accumulate) override;
  void linearBackwardWeight(const Tensor& dy, const Tensor& x, Tensor& dw,
                            Tensor* dbias) override;
  void rope(Tensor& x, const Tensor& positions, const Tensor& invFreq, float attnScaling,
            bool inverse) override;
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& keyMask,
                 float scale, int window, Tensor& out, Tensor* lse) override;
  void attentionBackward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                         const Tensor& keyMask, const Tensor& out, const Tensor& lse, float scale,
                         int window, Tensor& dq, Tensor& dk, Tensor& dv) override;
  void swiglu(const Tensor& g, const Tensor& u, const Tensor* countMask, Tensor* counts,
              Tensor& h) override;
  void swigluBackward(const Tensor& dh, const Tensor& g, const Tensor& u, Tensor& dg,
                      Tensor& du) override;
  void crossEntropy(const Tensor& logits, const Tensor& labels, float gradScale, Tensor& losses,
                    Tensor* dlogits) override;
  void add(const Tensor& a, const Tensor& b, Tensor& out) override;
  void gather(const Tensor& x, const Tensor& idx, Tensor& out) override;
  void scatterAdd(const Tensor& dy, const Tensor& idx, Tensor& dx) override;
  void adamw(const std::vector<AdamWSlot>& slots, const AdamWParams& p) override;
  double sumSquares(const std::vector<Tensor>& xs) override;

 private:
  std::atomic<size_t> inUse_{0}, peak_{0};
};

CpuBackend* cpuBackend();

}  // namespace plast
