// Embedding lookup and the row gather/scatter used to compute logits only where they are needed.
#include "common/checks.h"
#include "common/threadpool.h"
#include "cpu/cpu_backend.h"
#include "cpu/float_access.h"

namespace plast {

void CpuBackend::embedding(const Tensor& table, const Tensor& ids, Tensor& out) {
  const char* op = "embedding";
  checkRank(table, 2, op, "table");
  checkFloat(table, op, "table");
  checkRank(ids, 1, op, "ids");
  checkDType(ids, {DType::I32}, op, "ids");
  int64_t N = ids.dim(0), V = table.dim(0), D = table.dim(1);
  checkShape(out, {N, D}, op, "out");
  checkDType(out, {DType::F32}, op, "out");
  const int32_t* ip = ids.ptr<int32_t>();
  for (int64_t n = 0; n < N; ++n)
    PLAST_CHECK(ip[n] >= 0 && ip[n] < V, Code::Invalid,
                "embedding: token id " << ip[n] << " at position " << n
                                       << " is outside the vocabulary [0, " << V << ")");
  float* o = out.ptr<float>();
  parallelFor(N, 16, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) toF32(table.data(), table.dtype, ip[n] * D, D, o + n * D);
  });
}

void CpuBackend::gather(const Tensor& x, const Tensor& idx, Tensor& out) {
  const char* op = "gather";
  checkRank(x, 2, op, "x");
  checkDType(x, {DType::F32}, op, "x");
  checkRank(idx, 1, op, "idx");
  checkDType(idx, {DType::I32}, op, "idx");
  int64_t N = x.dim(0), D = x.dim(1), P = idx.dim(0);
  checkShape(out, {P, D}, op, "out");
  checkDType(out, {DType::F32}, op, "out");
  const int32_t* ip = idx.ptr<int32_t>();
  for (int64_t p = 0; p < P; ++p)
    PLAST_CHECK(ip[p] >= 0 && ip[p] < N, Code::Invalid,
                "gather: row " << ip[p] << " is outside [0, " << N << ")");
  const float* xp = x.ptr<float>();
  float* o = out.ptr<float>();
  for (int64_t p = 0; p < P; ++p)
    for (int64_t c = 0; c < D; ++c) o[p * D + c] = xp[ip[p] * D + c];
}

void CpuBackend::scatterAdd(const Tensor& dy, const Tensor& idx, Tensor& dx) {
  const char* op = "scatter_add";
  checkRank(dy, 2, op, "dy");
  checkRank(dx, 2, op, "dx");
  checkDType(dy, {DType::F32}, op, "dy");
  checkDType(dx, {DType::F32}, op, "dx");
  checkRank(idx, 1, op, "idx");
  checkDType(idx, {DType::I32}, op, "idx");
  int64_t P = dy.dim(0), D = dy.dim(1), N = dx.dim(0);
  checkShape(idx, {P}, op, "idx");
  PLAST_CHECK(dx.dim(1) == D, Code::Shape, "scatter_add: dy is " << shapeStr(dy.shape)
                                               << " but dx is " << shapeStr(dx.shape));
  const int32_t* ip = idx.ptr<int32_t>();
  const float* d = dy.ptr<float>();
  float* o = dx.ptr<float>();
  for (int64_t p = 0; p < P; ++p) {
    PLAST_CHECK(ip[p] >= 0 && ip[p] < N, Code::Invalid,
                "scatter_add: row " << ip[p] << " is outside [0, " << N << ")");
    for (int64_t c = 0; c < D; ++c) o[ip[p] * D + c] += d[p * D + c];
  }
}

void CpuBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  const char* op = "add";
  checkShape(b, a.shape, op, "b");
  checkShape(out, a.shape, op, "out");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&a, &b, &out}) checkDType(*t, {DType::F32}, op, "a/b/out");
  const float *ap = a.ptr<float>(), *bp = b.ptr<float>();
  float* o = out.ptr<float>();
  parallelFor(a.numel(), 1 << 15, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) o[i] = ap[i] + bp[i];
  });
}

}  // namespace plast
