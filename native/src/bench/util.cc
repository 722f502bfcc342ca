#include "bench/util.h"

#include <algorithm>
#include <sstream>

#include "cuda/random.h"
#include "plast/half.h"

namespace plast {
namespace cuda {
namespace bench {

std::vector<float> randn(std::mt19937_64& rng, size_t n, float sd) {
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = bf16ToF32(f32ToBf16(d(rng)));  // exactly representable in bf16
  return v;
}

Tensor upload(Backend* be, const std::vector<float>& v, const Shape& s, DType dt) {
  Tensor t = be->empty(s, dt);
  if (dt == DType::F32) {
    be->upload(t, v.data());
  } else {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = f32ToBf16(v[i]);
    be->upload(t, h.data());
  }
  return t;
}

Tensor randomDev(Backend* gpu, const Shape& s, uint64_t seed, float sd) {
  Tensor t = gpu->empty(s, DType::BF16);
  fillNormal(t, seed, 0.f, sd);
  return t;
}

void cudaOk(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();
    PLAST_FAIL(Code::Device, "bench: " << what << ": " << cudaGetErrorString(e));
  }
}

double timeMs(const std::function<void()>& fn, int warmup, int iters) {
  iters = std::max(1, iters);
  for (int i = 0; i < warmup; ++i) fn();
  cudaOk(cudaDeviceSynchronize(), "synchronize");
  std::vector<cudaEvent_t> ev(2 * iters);
  for (auto& e : ev) cudaOk(cudaEventCreate(&e), "event");
  for (int i = 0; i < iters; ++i) {
    cudaEventRecord(ev[2 * i]);
    fn();
    cudaEventRecord(ev[2 * i + 1]);
  }
  cudaError_t err = cudaEventSynchronize(ev.back());
  std::vector<float> ms(iters);
  for (int i = 0; i < iters && err == cudaSuccess; ++i) cudaEventElapsedTime(&ms[i], ev[2 * i], ev[2 * i + 1]);
  for (auto& e : ev) cudaEventDestroy(e);
  cudaOk(err, "event synchronize");
  std::sort(ms.begin(), ms.end());
  return ms[iters / 2];
}

std::string shapeOf(std::initializer_list<int64_t> dims) {
  std::ostringstream os;
  bool first = true;
  for (int64_t d : dims) {
    os << (first ? "" : "x") << d;
    first = false;
  }
  return os.str();
}

}  // namespace bench
}  // namespace cuda
}  // namespace plast
