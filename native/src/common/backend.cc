// The parts of Backend that every backend shares: zero/upload (which keep the index record of
// i32 tensors), index statistics, and the composed default of FfnUp.
#include "plast/backend.h"

#include <algorithm>
#include <vector>

#include "common/checks.h"

namespace plast {

IndexStats computeIndexStats(const int32_t* v, int64_t n) {
  IndexStats s;
  if (n <= 0) return s;
  s.min = s.max = v[0];
  bool anyKept = false;
  for (int64_t i = 0; i < n; ++i) {
    s.min = std::min(s.min, v[i]);
    s.max = std::max(s.max, v[i]);
    if (v[i] == kIgnoreIndex) continue;
    if (!anyKept) s.minKept = s.maxKept = v[i];
    anyKept = true;
    s.minKept = std::min(s.minKept, v[i]);
    s.maxKept = std::max(s.maxKept, v[i]);
  }
  // Every i32 upload pays for this (ids, positions, masks, labels of each micro-batch), so in
  // linear time where the values span a modest range (masks, positions, token ids), stopping at
  // the first repeat; a sort only for sparse, wide ranges.
  uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(s.max) - s.min) + 1;
  if (range <= 64 * static_cast<uint64_t>(n) + 4096) {
    std::vector<bool> seen(range);
    for (int64_t i = 0; i < n; ++i) {
      auto k = static_cast<size_t>(static_cast<int64_t>(v[i]) - s.min);
      if (seen[k]) {
        s.distinct = false;
        break;
      }
      seen[k] = true;
    }
    return s;
  }
  std::vector<int32_t> sorted(v, v + n);
  std::sort(sorted.begin(), sorted.end());
  s.distinct = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
  return s;
}

Tensor Backend::empty(const Shape& shape, DType dtype) {
  Tensor t;
  t.shape = shape;
  t.dtype = dtype;
  for (auto d : shape)
    PLAST_CHECK(d >= 0, Code::Shape, "cannot allocate a tensor of shape " << shapeStr(shape));
  size_t bytes = t.nbytes(), held = 0;
  void* p = allocate(bytes, &held);
  auto s = std::make_shared<Storage>();
  s->backend = this;
  s->ptr = p;
  s->bytes = bytes;
  size_t now = inUse_.fetch_add(held) + held;
  size_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
  s->release = [this, held](void* q) {
    inUse_.fetch_sub(held);
    release(q, held);
  };
  t.storage = s;
  return t;
}

Tensor Backend::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  zero(t);
  return t;
}

void Backend::zero(Tensor& t) {
  OpArgs(this, "zero").on(t, "tensor");
  zeroImpl(t);
  if (t.dtype == DType::I32 && t.offset == 0 && t.nbytes() == t.storage->bytes)
    t.storage->indices = IndexStats{0, 0, 0, 0, t.numel() <= 1};
  else
    t.storage->indices.reset();
}

void Backend::upload(Tensor& dst, const void* host) {
  OpArgs(this, "upload").on(dst, "dst");
  uploadImpl(dst, host);
  if (dst.dtype == DType::I32 && dst.offset == 0 && dst.nbytes() == dst.storage->bytes)
    dst.storage->indices = computeIndexStats(static_cast<const int32_t*>(host), dst.numel());
  else
    dst.storage->indices.reset();
}

void Backend::download(const Tensor& src, void* host) {
  OpArgs(this, "download").on(src, "src");
  downloadImpl(src, host);
}

IndexStats Backend::indexStats(const Tensor& t) {
  if (t.storage && t.storage->indices) return *t.storage->indices;  // covers a view's values too
  std::vector<int32_t> h(static_cast<size_t>(t.numel()));
  download(t, h.data());
  return computeIndexStats(h.data(), t.numel());
}

void Backend::ffnUpImpl(const Tensor& x, const Tensor& wg, const Tensor& wu,
                        const Tensor* countMask, Tensor* counts, Tensor& h, Tensor* gOut,
                        Tensor* uOut) {
  Shape s{x.dim(0), wg.dim(0)};
  Tensor g = gOut ? *gOut : empty(s, activationDType());
  Tensor u = uOut ? *uOut : empty(s, activationDType());
  linear(x, wg, nullptr, g);
  linear(x, wu, nullptr, u);
  swiglu(g, u, countMask, counts, h);
}

// The ops other backends do not implement yet (PLAST_OP_CPU): a typed error, never a silent no-op.
#define PLAST_OP(E, name, R, method, params)
#define PLAST_OP_CPU(E, opname, R, method, params)                                       \
  R Backend::method##Impl params {                                                       \
    PLAST_FAIL(Code::Unsupported, opname << " is not implemented on the " << name()      \
                                         << " backend yet (the cpu backend has it)");    \
  }
#include "plast/ops.def"

}  // namespace plast
