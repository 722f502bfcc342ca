// The CUDA backend: bf16 activations and weights on the device, hand-written kernels. Plain C++
// (no CUDA headers), so the registry and the benchmarks can include it from .cc files.
#pragma once
#include <map>
#include <mutex>
#include <string>

#include "plast/backend.h"

namespace plast {

// Returns nullptr and sets *whyNot when no usable device exists (no driver, no GPU, ...).
Backend* createCudaBackend(std::string* whyNot);

class CudaBackend : public Backend {
 public:
  CudaBackend();
  std::string name() const override { return "cuda"; }
  std::string deviceDescription() const override;
  bool supportsOp(Op op, DType dtype) const override;
  bool supportsWeight(Op op, DType dtype) const override;
  DType activationDType() const override { return DType::BF16; }

  Tensor loadWeight(const void* host, const Shape& shape, DType dtype,
                    std::shared_ptr<void> keepAlive) override;
  void synchronize() override;

  // Frees the cached (unused) device blocks; returns the bytes given back to the driver.
  size_t releaseCache();

 protected:
  // A caching allocator: freed blocks are kept by size and reused.
  void* allocate(size_t bytes, size_t* held) override;
  void release(void* p, size_t held) override;
  void zeroImpl(Tensor& t) override;
  void uploadImpl(Tensor& dst, const void* host) override;
  void downloadImpl(const Tensor& src, void* host) override;
  // Every op of plast/ops.def, FfnUp included (the fused GEMM + SwiGLU + count kernel), but the
  // CPU-only ones (PLAST_OP_CPU), which the base class reports unsupported.
#define PLAST_OP(E, name, R, method, params) R method##Impl params override;
#define PLAST_OP_CPU(E, name, R, method, params)
#include "plast/ops.def"

 private:
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;  // cached blocks by size
  size_t cached_ = 0;
};

}  // namespace plast
