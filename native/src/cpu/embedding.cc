// Embedding lookup and the row gather/scatter used to compute logits only where they are needed.
// Indices were range-checked by the caller (native/src/ops/embedding.cc).
#include "common/threadpool.h"
#include "cpu/cpu_backend.h"
#include "cpu/float_access.h"

namespace plast {

void CpuBackend::embeddingImpl(const Tensor& table, const Tensor& ids, Tensor& out) {
  int64_t N = ids.dim(0), D = table.dim(1);
  const int32_t* ip = ids.ptr<int32_t>();
  float* o = out.ptr<float>();
  parallelFor(N, 16, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) toF32(table.data(), table.dtype, ip[n] * D, D, o + n * D);
  });
}

void CpuBackend::gatherImpl(const Tensor& x, const Tensor& idx, Tensor& out) {
  int64_t D = x.dim(1), P = idx.dim(0);
  const int32_t* ip = idx.ptr<int32_t>();
  const float* xp = x.ptr<float>();
  float* o = out.ptr<float>();
  for (int64_t p = 0; p < P; ++p)
    for (int64_t c = 0; c < D; ++c) o[p * D + c] = xp[ip[p] * D + c];
}

void CpuBackend::scatterAddImpl(const Tensor& dy, const Tensor& idx, Tensor& dx) {
  int64_t P = dy.dim(0), D = dy.dim(1);
  const int32_t* ip = idx.ptr<int32_t>();
  const float* d = dy.ptr<float>();
  float* o = dx.ptr<float>();
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t c = 0; c < D; ++c) o[ip[p] * D + c] += d[p * D + c];
  }
}

}  // namespace plast
