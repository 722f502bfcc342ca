// CUDA backend: registration, device memory (a caching allocator), transfers and weight upload.
// The ops live in one file per family beside this one (gemm.cu, attention.cu, ...).
#include <cstdlib>
#include <sstream>

#include "cuda/common.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

__global__ void probeKernel(int* out) { *out = 42; }

// ================================ launchers ================================

[[noreturn]] void throwCuda(cudaError_t e, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear a non-sticky error so later calls are not blamed for it
  const char* base = std::strrchr(file, '/');
  std::ostringstream os;
  os << "cuda: " << call << " failed: " << cudaGetErrorName(e) << " (" << cudaGetErrorString(e)
     << ") at " << (base ? base + 1 : file) << ":" << line;
  throw Error(Code::Device, os.str());
}

void checkLaunch(const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) {
    static const bool sync = [] {
      const char* s = std::getenv("PLAST_CUDA_SYNC");
      return s && *s && std::string(s) != "0";
    }();
    if (!sync) return;
    e = cudaDeviceSynchronize();
    if (e == cudaSuccess) return;
  }
  std::ostringstream os;
  os << "cuda: kernel " << kernel << " failed: " << cudaGetErrorName(e) << " ("
     << cudaGetErrorString(e) << ")";
  throw Error(Code::Device, os.str());
}

const DeviceInfo& deviceInfo() {
  static DeviceInfo info = [] {
    DeviceInfo d;
    cudaDeviceProp p;
    PLAST_CUDA(cudaGetDevice(&d.device));
    PLAST_CUDA(cudaGetDeviceProperties(&p, d.device));
    d.sms = p.multiProcessorCount;
    d.major = p.major;
    d.minor = p.minor;
    d.smemOptin = p.sharedMemPerBlockOptin;
    d.name = p.name;
    d.totalMem = p.totalGlobalMem;
    return d;
  }();
  return info;
}

}  // namespace cuda

using namespace cuda;

Backend* createCudaBackend(std::string* whyNot) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    std::ostringstream os;
    os << "no CUDA device: cudaGetDeviceCount failed with error " << static_cast<int>(err) << " ("
       << cudaGetErrorString(err) << ")";
    *whyNot = os.str();
    return nullptr;
  }
  if (count == 0) {
    *whyNot = "no CUDA device found";
    return nullptr;
  }
  try {
    const DeviceInfo& d = deviceInfo();
    if (d.major < 8) {
      std::ostringstream os;
      os << "CUDA device 0 (" << d.name << ") has compute capability " << d.major << "." << d.minor
         << "; the bf16 tensor-core kernels need 8.0 or newer";
      *whyNot = os.str();
      return nullptr;
    }
    // One tiny kernel: catches a missing kernel image for this architecture or a broken driver.
    int* dv = nullptr;
    PLAST_CUDA(cudaMalloc(&dv, sizeof(int)));
    probeKernel<<<1, 1>>>(dv);
    cudaError_t le = cudaGetLastError();
    int hv = 0;
    cudaError_t ce = cudaMemcpy(&hv, dv, sizeof(int), cudaMemcpyDeviceToHost);
    cudaFree(dv);
    if (le != cudaSuccess || ce != cudaSuccess || hv != 42) {
      std::ostringstream os;
      os << "CUDA device 0 (" << d.name << ") could not run this build's kernels: "
         << cudaGetErrorString(le != cudaSuccess ? le : ce);
      *whyNot = os.str();
      return nullptr;
    }
  } catch (const Error& e) {
    *whyNot = e.what();
    return nullptr;
  }
  // Never deleted: tensors held by static objects may be released during exit.
  return new CudaBackend();
}

CudaBackend::CudaBackend() {}

std::string CudaBackend::deviceDescription() const {
  const DeviceInfo& d = deviceInfo();
  std::ostringstream os;
  os << d.name << " (sm_" << d.major << d.minor << ", " << d.sms << " SMs, "
     << (d.totalMem >> 20) << " MiB)";
  return os.str();
}

// The tensor-core GEMMs read bf16 weights (loadWeight converts every checkpoint to bf16); the
// other kernels widen any float weight as they read it.
bool CudaBackend::supportsWeight(Op op, DType dtype) const {
  switch (op) {
    case Op::Linear:
    case Op::LinearBackwardInput:
    case Op::FfnUp:
      return dtype == DType::BF16;
    default:
      return isFloat(dtype);
  }
}

bool CudaBackend::supportsOp(Op op, DType dtype) const {
  if (isCpuOnly(op)) return false;
  switch (op) {
    case Op::Cast:
    case Op::Add:
    case Op::Gather:
    case Op::ScatterAdd:
    case Op::Embedding:
      return dtype == DType::BF16 || dtype == DType::F16 || dtype == DType::F32;
    case Op::AdamW:
    case Op::SumSquares:
      return dtype == DType::F32;
    default:
      return dtype == DType::BF16;
  }
}

// ---- caching allocator ----
// Freed blocks are kept by size and reused; sizes are rounded (512 B below 1 MiB, 2 MiB above)
// so the per-layer temporaries of a model step find their blocks again.

void* CudaBackend::allocate(size_t bytes, size_t* rounded) {
  size_t r = bytes < (1u << 20) ? ((std::max<size_t>(bytes, 1) + 511) / 512) * 512
                                : ((bytes + (2u << 20) - 1) / (2u << 20)) * (2u << 20);
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = free_.lower_bound(r);
    if (it != free_.end() && it->first <= r + r / 8) {
      void* p = it->second;
      *rounded = it->first;
      cached_ -= it->first;
      free_.erase(it);
      return p;
    }
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, r);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    releaseCache();
    e = cudaMalloc(&p, r);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t freeB = 0, totalB = 0;
    cudaMemGetInfo(&freeB, &totalB);
    std::ostringstream os;
    os << "cuda: out of device memory allocating " << bytes << " bytes (cudaMalloc: "
       << cudaGetErrorString(e) << "; in use by plast " << bytesInUse() << " bytes, device free "
       << freeB << " of " << totalB << " bytes)";
    throw Error(e == cudaErrorMemoryAllocation ? Code::OOM : Code::Device, os.str());
  }
  *rounded = r;
  return p;
}

void CudaBackend::release(void* p, size_t rounded) {
  std::lock_guard<std::mutex> lk(mu_);
  free_.emplace(rounded, p);
  cached_ += rounded;
}

size_t CudaBackend::releaseCache() {
  std::lock_guard<std::mutex> lk(mu_);
  if (free_.empty()) return 0;
  cudaDeviceSynchronize();
  size_t n = 0;
  for (auto& kv : free_) {
    cudaFree(kv.second);
    n += kv.first;
  }
  free_.clear();
  cached_ = 0;
  return n;
}

void CudaBackend::zeroImpl(Tensor& t) {
  if (t.nbytes()) PLAST_CUDA(cudaMemsetAsync(t.data(), 0, t.nbytes()));
}

void CudaBackend::uploadImpl(Tensor& dst, const void* host) {
  if (dst.nbytes()) PLAST_CUDA(cudaMemcpy(dst.data(), host, dst.nbytes(), cudaMemcpyHostToDevice));
}

void CudaBackend::downloadImpl(const Tensor& src, void* host) {
  if (src.nbytes()) PLAST_CUDA(cudaMemcpy(host, src.data(), src.nbytes(), cudaMemcpyDeviceToHost));
}

void CudaBackend::synchronize() { PLAST_CUDA(cudaDeviceSynchronize()); }

Tensor CudaBackend::loadWeight(const void* host, const Shape& shape, DType dtype,
                               std::shared_ptr<void> keepAlive) {
  (void)keepAlive;  // copied to the device: the host memory is not referenced afterwards
  PLAST_CHECK(isFloat(dtype), Code::DType,
              "loadWeight: expected a float weight (bf16, f16, f32) but received " << dtypeName(dtype));
  Tensor t = empty(shape, DType::BF16);
  if (dtype == DType::BF16) {
    upload(t, host);
  } else {
    Tensor tmp = empty(shape, dtype);
    upload(tmp, host);
    castDevice(tmp.data(), dtype, t.data(), DType::BF16, t.numel());
  }
  return t;
}

}  // namespace plast
