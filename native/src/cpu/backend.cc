// CPU backend: memory and transfers. The ops live in one file per family beside this one.
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <thread>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"
#include "cpu/float_access.h"

namespace plast {

std::string CpuBackend::deviceDescription() const {
  std::string model = "unknown CPU";
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) model = line.substr(p + 2);
      break;
    }
  }
  std::ostringstream os;
  os << model << ", " << numThreads() << " threads";
  return os.str();
}

// The kernels compute in f32 on f32 activations; weights of any float dtype are widened as they
// are read (supportsWeight), and casts convert between any float dtypes.
bool CpuBackend::supportsOp(Op op, DType dtype) const {
  return op == Op::Cast ? isFloat(dtype) : dtype == DType::F32;
}

void* CpuBackend::allocate(size_t bytes, size_t* held) {
  size_t alloc = ((bytes ? bytes : 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, alloc);
  PLAST_CHECK(p != nullptr, Code::OOM, "out of host memory allocating " << bytes << " bytes");
  *held = alloc;
  return p;
}

void CpuBackend::release(void* p, size_t) { std::free(p); }

void CpuBackend::zeroImpl(Tensor& t) { std::memset(t.data(), 0, t.nbytes()); }

void CpuBackend::uploadImpl(Tensor& dst, const void* host) { std::memcpy(dst.data(), host, dst.nbytes()); }

void CpuBackend::downloadImpl(const Tensor& src, void* host) {
  std::memcpy(host, src.data(), src.nbytes());
}

Tensor CpuBackend::loadWeight(const void* host, const Shape& shape, DType dtype,
                              std::shared_ptr<void> keepAlive) {
  // Reference the mapped file when aligned: multi-GB checkpoints are not copied.
  if (reinterpret_cast<uintptr_t>(host) % dtypeSize(dtype) == 0 && keepAlive) {
    Tensor t;
    t.shape = shape;
    t.dtype = dtype;
    auto s = std::make_shared<Storage>();
    s->backend = this;
    s->ptr = const_cast<void*>(host);
    s->bytes = t.nbytes();
    auto hold = keepAlive;
    s->release = [hold](void*) mutable { hold.reset(); };
    t.storage = s;
    return t;
  }
  Tensor t = empty(shape, dtype);
  std::memcpy(t.data(), host, t.nbytes());
  return t;
}

CpuBackend* cpuBackend() {
  static CpuBackend b;
  return &b;
}

}  // namespace plast
