// The CUDA benchmark as a library (used by the plast_bench binary and by `plast bench --op` through
// the addon): kernel variants checked against the CPU reference and then timed (bench/ops.cc), and
// the model-level workloads (a LLaMA-7B-shaped profile forward and PLAST step on random bf16
// weights generated on the device: bench/model.cc). It sits above the backends and the model, as
// the registry does. Plain C++; every entry point throws plast::Error (NoDevice without a device).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace plast {
namespace cuda {

struct BenchRow {
  std::string bench;    // "ffn+count", "linear", "attn fwd", "attn fwd+bwd", "profile", "step", ...
  std::string variant;  // kernel variant ("auto" = the default choice)
  std::string shape;
  bool checked = false;  // compared with the CPU reference (or, for model rows, sanity-checked)
  bool ok = false;       // ... and passed
  bool timed = false;    // a variant that fails its check is not timed
  double err = 0;        // largest relative error of the check
  double ms = 0, tflops = 0;
  double peakMiB = 0;       // peak device memory of the workload, weights included (0: not measured)
  double tokensPerSec = 0;  // model workloads
  std::string note;
};

struct OpBenchOptions {
  std::string op;                     // ffn | linear | attn | attn-bwd
  std::vector<std::string> variants;  // empty or {"all"}: every registered variant of the op
  bool quick = false;                 // smaller benchmark shapes
  int iters = 0;                      // timed repeats (0: a default per op)
  uint64_t seed = 1234;
  bool fullCheck = true;  // when "auto" is benchmarked: spot-check it at the full shape too
  bool once = false;      // run the default kernels once (for profilers) and return no rows
  std::function<void(const BenchRow&)> onRow;  // called as each row is measured
};

// The bench ops, and the kernel-variant registry op ("ffn_up", "gemm", ...) each one selects in.
std::vector<std::string> benchOps();
std::string kernelOpFor(const std::string& benchOp);  // throws Invalid for an unknown op
// Each requested variant is first checked against the CPU reference at a moderate shape; one that
// fails is reported (ok = false) and not timed; one that passes is timed at the benchmark shape
// (CUDA events, median of repeats). Variants for another architecture are reported, not run. The
// selection is restored to "auto" afterwards.
std::vector<BenchRow> runOpBench(const OpBenchOptions& o);

// The model-level workloads on the engine's own LlamaModel, weights random bf16 generated on the
// device (normal(0, 0.02) like HF's init; RMSNorm weights 1):
//  profile: forward of profileBatch x seqLen tokens, every token counted in every layer, no LM head;
//  step:    a PLAST training step on stepBatch x seqLen tokens: zero grads, forward, loss on the
//           last targetFraction of each sequence, backward (weight grads for trainLayers only; the
//           backward stops below the lowest), AdamW on fp32 masters and moments.
// TFLOP/s count the model FLOPs of the workload (causal attention at half the score matrix; the
// step's recomputed forward is not counted). Peak memory includes the weights.
struct ModelBenchOptions {
  int64_t vocab = 32000, hidden = 4096, inter = 11008, layers = 32, heads = 32, kvHeads = 32,
          headDim = 128;  // LLaMA-7B
  double ropeTheta = 10000.0, eps = 1e-5;
  int64_t profileBatch = 16, stepBatch = 4, seqLen = 640;
  std::vector<int> trainLayers = {0, 1, 2, 3, 4};
  double targetFraction = 0.4;
  int iters = 5, warmup = 1;
  uint64_t seed = 1234;
  bool profile = true, step = true;
  // "cuda"; "cpu" runs the same harness on the CPU backend (host-generated weights) so that it can
  // be checked on a machine without a GPU, at a tiny shape.
  std::string backend = "cuda";
  std::function<void(const BenchRow&)> onRow;
};
std::vector<BenchRow> runModelBench(const ModelBenchOptions& o);

// Model FLOPs of one forward over B sequences of T tokens (no LM head), and of the PLAST step.
double profileFlops(const ModelBenchOptions& o, int64_t B, int64_t T);
double stepFlops(const ModelBenchOptions& o, int64_t B, int64_t T, int64_t labelledRows);

}  // namespace cuda
}  // namespace plast
