// Checks of the embedding lookup and the row gather/scatter (kernels: cpu/ and cuda/embedding).
// Index ranges come from the record made at upload: no read-back from the device per call.
#include "common/checks.h"

namespace plast {

void Backend::embedding(const Tensor& table, const Tensor& ids, Tensor& out) {
  OpArgs a(this, Op::Embedding);
  a.weight(table, "table", Rank{2});
  a.i32(ids, "ids", Rank{1});
  int64_t N = ids.dim(0), V = table.dim(0), D = table.dim(1);
  a.data(out, "out", Rank{2});
  checkShape(out, {N, D}, a.name(), "out");
  int32_t bad = 0;
  int64_t at = a.firstOutside(ids, 0, V, false, &bad);
  PLAST_CHECK(at < 0, Code::Invalid,
              "embedding: token id " << bad << " at position " << at
                                     << " is outside the vocabulary [0, " << V << ")");
  embeddingImpl(table, ids, out);
}

void Backend::gather(const Tensor& x, const Tensor& idx, Tensor& out) {
  OpArgs a(this, Op::Gather);
  a.data(x, "x", Rank{2});
  a.i32(idx, "idx", Rank{1});
  int64_t N = x.dim(0), D = x.dim(1), P = idx.dim(0);
  a.on(out, "out");
  checkShape(out, {P, D}, a.name(), "out");
  checkDType(out, {x.dtype}, a.name(), "out");
  int32_t bad = 0;
  PLAST_CHECK(a.firstOutside(idx, 0, N, false, &bad) < 0, Code::Invalid,
              "gather: row " << bad << " is outside [0, " << N << ")");
  gatherImpl(x, idx, out);
}

void Backend::scatterAdd(const Tensor& dy, const Tensor& idx, Tensor& dx) {
  OpArgs a(this, Op::ScatterAdd);
  a.data(dy, "dy", Rank{2});
  a.data(dx, "dx", Rank{2});
  checkDType(dx, {dy.dtype}, a.name(), "dx");
  int64_t P = dy.dim(0), D = dy.dim(1), N = dx.dim(0);
  a.i32(idx, "idx", {P});
  PLAST_CHECK(dx.dim(1) == D, Code::Shape, "scatter_add: dy is " << shapeStr(dy.shape)
                                               << " but dx is " << shapeStr(dx.shape));
  int32_t bad = 0;
  PLAST_CHECK(a.firstOutside(idx, 0, N, false, &bad) < 0, Code::Invalid,
              "scatter_add: row " << bad << " is outside [0, " << N << ")");
  scatterAddImpl(dy, idx, dx);
}

}  // namespace plast
