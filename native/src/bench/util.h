// Helpers shared by the op and model benchmarks: seeded bf16-exact data, host -> backend tensors,
// random weights generated on the device, CUDA-event timing, shape labels.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "plast/backend.h"

namespace plast {
namespace cuda {
namespace bench {

// n normal values with deviation sd, each exactly representable in bf16.
std::vector<float> randn(std::mt19937_64& rng, size_t n, float sd);
// A tensor of dtype dt (f32 or bf16) on `be` holding v.
Tensor upload(Backend* be, const std::vector<float>& v, const Shape& s, DType dt);
// bf16 N(0, sd) values generated on the device (multi-GB weights without a host round trip).
Tensor randomDev(Backend* gpu, const Shape& s, uint64_t seed, float sd);
// A CUDA runtime failure as plast::Error (Code::Device) naming `what`.
void cudaOk(cudaError_t e, const char* what);
// Median milliseconds of fn over `iters` timed runs after `warmup` runs.
double timeMs(const std::function<void()>& fn, int warmup, int iters);
// "8192x4096x11008"
std::string shapeOf(std::initializer_list<int64_t> dims);

}  // namespace bench
}  // namespace cuda
}  // namespace plast
