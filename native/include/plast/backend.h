// The backend interface. The CPU backend (float32 math) is the reference; others are checked
// against it op by op (native/tests).
//
// The ops are listed once, in plast/ops.def. Callers use the public methods (`rmsnorm`, ...),
// which check shapes, dtypes, the tensors' backend and index ranges (native/src/ops/) and then
// run the backend's `...Impl` (native/src/cpu, native/src/cuda): an implementation may assume
// well-formed, contiguous tensors of its own, and checks only limits of its own kernels.
#pragma once
#include <atomic>
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

  // The weight dtypes this backend's kernel for `op` takes (default: any float dtype).
  virtual bool supportsWeight(Op op, DType dtype) const { return isFloat(dtype); }

  // --- memory ---
  // An uninitialised tensor; its bytes count towards bytesInUse until the last handle is gone.
  Tensor empty(const Shape& shape, DType dtype);
  Tensor zeros(const Shape& shape, DType dtype);
  void zero(Tensor& t);
  // dst.nbytes() from host. For i32 data covering the whole storage, records the range of the
  // values (Storage::indices) so that ops can check indices without reading them back.
  void upload(Tensor& dst, const void* host);
  void download(const Tensor& src, void* host);  // src.nbytes() to host
  // A weight from host memory (e.g. an mmapped checkpoint). `keepAlive` owns that memory; a
  // backend may reference it without copying (CPU) or upload and convert it (CUDA: to bf16).
  virtual Tensor loadWeight(const void* host, const Shape& shape, DType dtype,
                            std::shared_ptr<void> keepAlive) = 0;
  virtual void synchronize() {}
  size_t bytesInUse() const { return inUse_.load(); }
  size_t peakBytes() const { return peak_.load(); }
  void resetPeak() { peak_.store(inUse_.load()); }
  // The range of an i32 tensor's values: as recorded at upload when there is a record, else read
  // back (a device-to-host copy: the slow path, for tensors not written by upload).
  IndexStats indexStats(const Tensor& t);

  // --- ops (plast/ops.def): checked, then run by the backend's implementation ---
#define PLAST_OP(E, name, R, method, params) R method params;
#include "plast/ops.def"

 protected:
  // Memory for `bytes` bytes (1 when 0); *held receives what the block really holds (rounded),
  // which is what bytesInUse counts and what release() is given back.
  virtual void* allocate(size_t bytes, size_t* held) = 0;
  virtual void release(void* p, size_t held) = 0;
  virtual void zeroImpl(Tensor& t) = 0;
  virtual void uploadImpl(Tensor& dst, const void* host) = 0;
  virtual void downloadImpl(const Tensor& src, void* host) = 0;
#define PLAST_OP(E, name, R, method, params) virtual R method##Impl params = 0;
#define PLAST_OP_COMPOSED(E, name, R, method, params) virtual R method##Impl params;
#define PLAST_OP_CPU(E, name, R, method, params) virtual R method##Impl params;
#include "plast/ops.def"

 private:
  std::atomic<size_t> inUse_{0}, peak_{0};
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
