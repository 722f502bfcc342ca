#include "common/checks.h"

#include <vector>

namespace plast {

void checkShape(const Tensor& t, const Shape& expected, const char* op, const char* what) {
  PLAST_CHECK(t.defined(), Code::Invalid, op << ": " << what << " is missing");
  PLAST_CHECK(t.shape == expected, Code::Shape,
              op << ": expected " << what << " of shape " << shapeStr(expected)
                 << " but received " << shapeStr(t.shape));
}

void checkRank(const Tensor& t, int rank, const char* op, const char* what) {
  PLAST_CHECK(t.defined(), Code::Invalid, op << ": " << what << " is missing");
  PLAST_CHECK(t.ndim() == rank, Code::Shape,
              op << ": expected " << what << " of rank " << rank << " but received "
                 << shapeStr(t.shape));
}

void checkDType(const Tensor& t, std::initializer_list<DType> allowed, const char* op,
                const char* what) {
  for (DType d : allowed)
    if (t.dtype == d) return;
  std::string list;
  for (DType d : allowed) list += std::string(list.empty() ? "" : "|") + dtypeName(d);
  PLAST_FAIL(Code::DType, op << ": expected " << what << " of dtype " << list << " but received "
                             << dtypeName(t.dtype));
}

void checkFloat(const Tensor& t, const char* op, const char* what) {
  checkDType(t, {DType::BF16, DType::F16, DType::F32}, op, what);
}

namespace {

// "bf16|f32": the float dtypes `ok` accepts, for messages.
template <typename F>
std::string floatList(F&& ok) {
  std::string list;
  for (DType d : {DType::BF16, DType::F16, DType::F32})
    if (ok(d)) list += std::string(list.empty() ? "" : "|") + dtypeName(d);
  return list.empty() ? std::string("none") : list;
}

}  // namespace

const Tensor& OpArgs::on(const Tensor& t, const char* what) const {
  PLAST_CHECK(t.defined(), Code::Invalid, name_ << ": " << what << " is missing");
  PLAST_CHECK(t.backend() == be_, Code::Invalid,
              name_ << ": " << what << " must be a " << be_->name() << " tensor but lives on "
                    << (!t.backend()                        ? std::string("no backend")
                        : t.backend()->name() == be_->name() ? "another " + be_->name() + " backend"
                                                             : t.backend()->name()));
  return t;
}

void OpArgs::act(const Tensor& t, const char* what, Rank rank) const {
  checkRank(on(t, what), static_cast<int>(rank), name_, what);
  checkDType(t, {be_->activationDType()}, name_, what);
}
void OpArgs::act(const Tensor& t, const char* what, const Shape& shape) const {
  checkShape(on(t, what), shape, name_, what);
  checkDType(t, {be_->activationDType()}, name_, what);
}

void OpArgs::weight(const Tensor& t, const char* what, Rank rank) const {
  checkRank(on(t, what), static_cast<int>(rank), name_, what);
  PLAST_CHECK(be_->supportsWeight(op_, t.dtype), Code::DType,
              name_ << ": expected " << what << " of dtype "
                    << floatList([&](DType d) { return be_->supportsWeight(op_, d); })
                    << " but received " << dtypeName(t.dtype));
}
void OpArgs::weight(const Tensor& t, const char* what, const Shape& shape) const {
  checkShape(on(t, what), shape, name_, what);
  weight(t, what, Rank{static_cast<int>(shape.size())});
}

void OpArgs::data(const Tensor& t, const char* what, Rank rank) const {
  checkRank(on(t, what), static_cast<int>(rank), name_, what);
  PLAST_CHECK(isFloat(t.dtype) && be_->supportsOp(op_, t.dtype), Code::DType,
              name_ << ": expected " << what << " of dtype "
                    << floatList([&](DType d) { return be_->supportsOp(op_, d); })
                    << " but received " << dtypeName(t.dtype));
}

void OpArgs::anyFloat(const Tensor& t, const char* what, const Shape& shape) const {
  checkShape(on(t, what), shape, name_, what);
  checkFloat(t, name_, what);
}

void OpArgs::f32(const Tensor& t, const char* what, const Shape& shape) const {
  checkShape(on(t, what), shape, name_, what);
  checkDType(t, {DType::F32}, name_, what);
}
void OpArgs::i32(const Tensor& t, const char* what, const Shape& shape) const {
  checkShape(on(t, what), shape, name_, what);
  checkDType(t, {DType::I32}, name_, what);
}
void OpArgs::i32(const Tensor& t, const char* what, Rank rank) const {
  checkRank(on(t, what), static_cast<int>(rank), name_, what);
  checkDType(t, {DType::I32}, name_, what);
}
void OpArgs::i64(const Tensor& t, const char* what, const Shape& shape) const {
  checkShape(on(t, what), shape, name_, what);
  checkDType(t, {DType::I64}, name_, what);
}

int64_t OpArgs::firstOutside(const Tensor& t, int64_t lo, int64_t hi, bool allowIgnore,
                             int32_t* value) const {
  if (t.numel() == 0) return -1;
  IndexStats s = be_->indexStats(t);
  int32_t mn = allowIgnore ? s.minKept : s.min, mx = allowIgnore ? s.maxKept : s.max;
  if (mx < mn || (mn >= lo && mx < hi)) return -1;
  std::vector<int32_t> h(static_cast<size_t>(t.numel()));
  be_->download(t, h.data());
  for (size_t i = 0; i < h.size(); ++i) {
    int32_t v = h[i];
    if ((allowIgnore && v == kIgnoreIndex) || (v >= lo && v < hi)) continue;
    if (value) *value = v;
    return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace plast
