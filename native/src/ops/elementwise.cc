// Checks of the elementwise ops: the residual add, dtype casts and GELU (kernels: cpu/ and
// cuda/elementwise).
#include "common/checks.h"

namespace plast {

void Backend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  OpArgs args(this, Op::Add);
  args.data(a, "a", Rank{a.ndim()});
  args.on(b, "b");
  args.on(out, "out");
  checkShape(b, a.shape, args.name(), "b");
  checkShape(out, a.shape, args.name(), "out");
  checkDType(b, {a.dtype}, args.name(), "b");
  checkDType(out, {a.dtype}, args.name(), "out");
  addImpl(a, b, out);
}

void Backend::cast(const Tensor& src, Tensor& dst) {
  OpArgs a(this, Op::Cast);
  a.on(src, "src");
  a.on(dst, "dst");
  PLAST_CHECK(src.numel() == dst.numel(), Code::Shape,
              "cast: " << src.describe() << " and " << dst.describe() << " differ in size");
  PLAST_CHECK(isFloat(src.dtype) && isFloat(dst.dtype), Code::DType,
              "cast: expected float tensors but received " << src.describe() << " -> "
                                                           << dst.describe());
  castImpl(src, dst);
}

void Backend::gelu(const Tensor& x, GeluKind kind, Tensor& y) {
  OpArgs a(this, Op::Gelu);
  a.act(x, "x", Rank{x.ndim()});
  a.act(y, "y", x.shape);
  PLAST_CHECK(kind == GeluKind::Erf || kind == GeluKind::Tanh || kind == GeluKind::Quick,
              Code::Invalid, "gelu: unknown kind " << static_cast<int>(kind));
  geluImpl(x, kind, y);
}

}  // namespace plast
