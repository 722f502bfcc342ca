// Random tensors generated on the device (benchmarks: multi-GB weights without a host round trip).
// Plain C++: included by the CUDA sources, the bench library and the bench binary.
#pragma once
#include <cstdint>

#include "plast/tensor.h"

namespace plast {
namespace cuda {

// t[i] = mean + sd * N(0, 1), from a counter-based hash of (seed, i): the same seed gives the same
// values on every device. t must be a float tensor (bf16, f16, f32) of the CUDA backend.
void fillNormal(Tensor& t, uint64_t seed, float mean, float sd);

// t[i] = lo + floor(U * (hi - lo)) for an i32 tensor of the CUDA backend (token ids).
void fillUniformInt(Tensor& t, uint64_t seed, int32_t lo, int32_t hi);

}  // namespace cuda
}  // namespace plast
