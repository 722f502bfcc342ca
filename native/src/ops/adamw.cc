// The AdamW update's scalars (shared by every backend's kernel) and the checks of the optimizer
// ops (kernels: cpu/ and cuda/adamw).
#include <cmath>

#include "common/checks.h"

namespace plast {

AdamWScalars adamwScalars(const AdamWParams& p) {
  PLAST_CHECK(p.step >= 1, Code::Invalid, "adamw: step must be >= 1 but is " << p.step);
  double bc1 = 1.0 - std::pow(p.beta1, static_cast<double>(p.step));
  double bc2 = 1.0 - std::pow(p.beta2, static_cast<double>(p.step));
  AdamWScalars s;
  s.decay = static_cast<float>(1.0 - p.lr * p.weightDecay);
  s.oneMinusBeta1 = static_cast<float>(1.0 - p.beta1);
  s.beta2 = static_cast<float>(p.beta2);
  s.oneMinusBeta2 = static_cast<float>(1.0 - p.beta2);
  s.stepSize = static_cast<float>(p.lr / bc1);
  s.bc2Sqrt = static_cast<float>(std::sqrt(bc2));
  s.eps = static_cast<float>(p.eps);
  s.gradScale = static_cast<float>(p.gradScale);
  return s;
}

void Backend::adamw(const std::vector<AdamWSlot>& slots, const AdamWParams& p) {
  OpArgs a(this, Op::AdamW);
  adamwScalars(p);  // validates the step before any tensor is touched
  for (const AdamWSlot& sl : slots) {
    a.f32(sl.master, "master", a.on(sl.master, "master").shape);
    a.f32(sl.grad, "grad", sl.master.shape);
    a.f32(sl.m, "m", sl.master.shape);
    a.f32(sl.v, "v", sl.master.shape);
    if (sl.weight.defined() && sl.weight.data() != sl.master.data())
      a.anyFloat(sl.weight, "weight", sl.master.shape);
  }
  adamwImpl(slots, p);
}

double Backend::sumSquares(const std::vector<Tensor>& xs) {
  OpArgs a(this, Op::SumSquares);
  for (const Tensor& x : xs) {
    a.on(x, "x");
    checkDType(x, {DType::F32}, a.name(), "x");
  }
  return sumSquaresImpl(xs);
}

}  // namespace plast
