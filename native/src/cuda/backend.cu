// CUDA backend registration. The kernels are not written yet: the backend reports itself
// unavailable even when a device is present, so "auto" falls back to the CPU.
#include <cuda_runtime.h>

#include <sstream>

#include "cuda/cuda_backend.h"

namespace plast {

Backend* createCudaBackend(std::string* whyNot) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
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
  *whyNot = "a CUDA device is present but this build's CUDA kernels are not implemented yet";
  return nullptr;
}

}  // namespace plast
