// The op list (generated from plast/ops.def) and the AdamW parameter types the ops take.
// One file per op family under src/ops (the checks), src/cpu and src/cuda (the kernels).
#pragma once
#include <cstdint>
#include <vector>

#include "plast/tensor.h"

namespace plast {

// Which keys a query sees besides the key mask: causal (key j <= query i), optionally within a
// sliding window (i - j < window when window > 0), or every key (full: the CLIP vision tower).
// An int converts to a causal mask with that sliding window, as the decoder uses it.
struct AttnMask {
  int window = 0;
  bool causal = true;
  AttnMask(int slidingWindow = 0) : window(slidingWindow) {}  // NOLINT(google-explicit-constructor)
  static AttnMask full() {
    AttnMask m;
    m.causal = false;
    return m;
  }
};

// The GELU variants HF configs name: "gelu" (erf), "gelu_pytorch_tanh", "quick_gelu".
enum class GeluKind : int32_t { Erf = 0, Tanh = 1, Quick = 2 };

// One enumerator per line of plast/ops.def, in its order.
enum class Op : int32_t {
#define PLAST_OP(E, name, R, method, params) E,
#include "plast/ops.def"
  Count_,
};

const char* opName(Op op);
// Ops only the CPU reference implements so far (PLAST_OP_CPU in plast/ops.def).
bool isCpuOnly(Op op);

// torch.optim.AdamW semantics (decoupled weight decay, bias correction).
// `gradScale` multiplies the gradient first (gradient clipping / loss normalisation).
struct AdamWScalars;
struct AdamWParams {
  // Doubles, as torch keeps hyper-parameters; kernels derive the same f32 scalars torch uses.
  double lr = 2e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay = 0.0;
  int64_t step = 1;  // 1-based step count after this update
  double gradScale = 1.0;
};

// The f32 scalars of one update, derived as torch's single-tensor AdamW derives them:
// p *= decay; m = m + (1-b1)(g-m); v = b2 v + (1-b2) g^2; p -= stepSize * m / (sqrt(v)/bc2Sqrt + eps)
struct AdamWScalars {
  float decay, oneMinusBeta1, beta2, oneMinusBeta2, stepSize, bc2Sqrt, eps, gradScale;
};
AdamWScalars adamwScalars(const AdamWParams& p);

// One trainable tensor: fp32 master weights + fp32 grad + fp32 moments, and the model's
// (possibly bf16) weight that is refreshed from the master after the update.
struct AdamWSlot {
  Tensor master, grad, m, v;
  Tensor weight;  // may be undefined when the master is the weight itself
};

}  // namespace plast
