// Embedding lookup and the row gather/scatter (logits only where needed). Indices were
// range-checked by the caller (native/src/ops/embedding.cc) against the range recorded at upload:
// an out-of-range index would fault the device context.
#include <algorithm>

#include "cuda/common.cuh"

namespace plast {
namespace cuda {

// ================================ kernels ================================

// out[n, :] = table[ids[n], :] (any float dtypes)
__global__ void embeddingKernel(const void* __restrict__ table, int tt, const int32_t* __restrict__ ids,
                                void* __restrict__ out, int ot, int64_t N, int64_t D) {
  int64_t total = N * D;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t n = i / D, c = i - n * D;
    stF(out, ot, i, ldF(table, tt, static_cast<int64_t>(ids[n]) * D + c));
  }
}

// 16-byte rows copies: out[n, :] = src[idx[n], :], rowVecs = D*elem/16
__global__ void gatherRows16(const uint4* __restrict__ src, const int32_t* __restrict__ idx,
                             uint4* __restrict__ out, int64_t P, int64_t rowVecs) {
  int64_t total = P * rowVecs;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t p = i / rowVecs, c = i - p * rowVecs;
    out[i] = src[static_cast<int64_t>(idx[p]) * rowVecs + c];
  }
}

// dx[idx[p], :] += dy[p, :] with distinct indices
__global__ void scatterAddKernel(const void* __restrict__ dy, const int32_t* __restrict__ idx,
                                 void* __restrict__ dx, int dt, int64_t P, int64_t D) {
  int64_t total = P * D;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t p = i / D, c = i - p * D;
    int64_t o = static_cast<int64_t>(idx[p]) * D + c;
    stF(dx, dt, o, ldF(dx, dt, o) + ldF(dy, dt, i));
  }
}

// Repeated indices: one thread per column walks the rows in order (as the CPU does).
__global__ void scatterAddSerialKernel(const void* __restrict__ dy, const int32_t* __restrict__ idx,
                                       void* __restrict__ dx, int dt, int64_t P, int64_t D) {
  int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= D) return;
  for (int64_t p = 0; p < P; ++p) {
    int64_t o = static_cast<int64_t>(idx[p]) * D + c;
    stF(dx, dt, o, ldF(dx, dt, o) + ldF(dy, dt, p * D + c));
  }
}

// ================================ launchers ================================


}  // namespace cuda

using namespace cuda;

void CudaBackend::embeddingImpl(const Tensor& table, const Tensor& ids, Tensor& out) {
  int64_t N = ids.dim(0), D = table.dim(1);
  if (N == 0 || D == 0) return;
  size_t es = dtypeSize(out.dtype);
  if (table.dtype == out.dtype && (D * es) % 16 == 0 && aligned16(table.data()) && aligned16(out.data())) {
    int64_t rv = D * es / 16;
    gatherRows16<<<gridFor(N * rv, 256), 256>>>(static_cast<const uint4*>(table.data()),
                                                ids.ptr<int32_t>(), static_cast<uint4*>(out.data()), N, rv);
  } else {
    embeddingKernel<<<gridFor(N * D, 256), 256>>>(table.data(), static_cast<int>(table.dtype),
                                                  ids.ptr<int32_t>(), out.data(),
                                                  static_cast<int>(out.dtype), N, D);
  }
  checkLaunch("embedding");
}

void CudaBackend::gatherImpl(const Tensor& x, const Tensor& idx, Tensor& out) {
  int64_t D = x.dim(1), P = idx.dim(0);
  if (P == 0 || D == 0) return;
  size_t es = dtypeSize(x.dtype);
  if ((D * es) % 16 == 0 && aligned16(x.data()) && aligned16(out.data())) {
    int64_t rv = D * es / 16;
    gatherRows16<<<gridFor(P * rv, 256), 256>>>(static_cast<const uint4*>(x.data()), idx.ptr<int32_t>(),
                                                static_cast<uint4*>(out.data()), P, rv);
  } else {
    embeddingKernel<<<gridFor(P * D, 256), 256>>>(x.data(), static_cast<int>(x.dtype), idx.ptr<int32_t>(),
                                                  out.data(), static_cast<int>(out.dtype), P, D);
  }
  checkLaunch("gather");
}

void CudaBackend::scatterAddImpl(const Tensor& dy, const Tensor& idx, Tensor& dx) {
  int64_t P = dy.dim(0), D = dy.dim(1);
  if (P == 0 || D == 0) return;
  // Distinct rows (recorded at upload) can be added in parallel without atomics.
  if (indexStats(idx).distinct)
    scatterAddKernel<<<gridFor(P * D, 256), 256>>>(dy.data(), idx.ptr<int32_t>(), dx.data(),
                                                   static_cast<int>(dx.dtype), P, D);
  else
    scatterAddSerialKernel<<<static_cast<int>(ceilDiv(D, 128)), 128>>>(
        dy.data(), idx.ptr<int32_t>(), dx.data(), static_cast<int>(dx.dtype), P, D);
  checkLaunch("scatter_add");
}

}  // namespace plast
