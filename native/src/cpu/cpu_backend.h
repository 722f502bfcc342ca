// The CPU backend: float32 math, multi-threaded, the reference every other backend is checked
// against. Activations are f32; weights may be bf16/f16/f32 (widened on the fly).
#pragma once
#include "plast/backend.h"

namespace plast {

class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::string deviceDescription() const override;
  DType activationDType() const override { return DType::F32; }

  bool supportsOp(Op op, DType dtype) const override;
  Tensor loadWeight(const void* host, const Shape& shape, DType dtype,
                    std::shared_ptr<void> keepAlive) override;

 protected:
  void* allocate(size_t bytes, size_t* held) override;
  void release(void* p, size_t held) override;
  void zeroImpl(Tensor& t) override;
  void uploadImpl(Tensor& dst, const void* host) override;
  void downloadImpl(const Tensor& src, void* host) override;
  // Every op of plast/ops.def; FfnUp is the base class's composition of linear and swiglu.
#define PLAST_OP(E, name, R, method, params) R method##Impl params override;
#define PLAST_OP_COMPOSED(E, name, R, method, params)
#include "plast/ops.def"
};

CpuBackend* cpuBackend();

}  // namespace plast
