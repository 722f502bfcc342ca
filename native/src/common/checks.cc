#include "common/checks.h"

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

}  // namespace plast
