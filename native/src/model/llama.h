// The LLaMA-family decoder (llama, mistral, qwen2 and the language model of LLaVA) built from
// backend ops: forward with per-layer gate-positivity counts, logits only at requested rows, and a
// backward pass that computes weight gradients for the trainable tensors only and stops below the
// lowest trainable layer.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plast/backend.h"

namespace plast {

struct LlamaConfig {
  int64_t vocab = 0, hidden = 0, inter = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0;
  float eps = 1e-6f;
  bool qkvBias = false, oBias = false, mlpBias = false, tied = false;
  int window = 0;              // sliding-window attention (0 = none)
  std::vector<float> invFreq;  // RoPE inverse frequencies, headDim/2 (rope scaling applied)
  float ropeAttnScaling = 1.0f;
};

// A right-padded batch of B rows of T tokens. Row-major flat indices n = b*T + t.
struct Batch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> ids, positions, keyMask;  // B*T each
  std::vector<int32_t> countMask;                // B*T, or empty: no counting
  std::vector<int32_t> logitRows;                // flat rows whose logits are wanted
  std::vector<int32_t> labels;                   // one per logit row (training), -100 = ignore
  bool wantGates = false;  // forward: also return every layer's gate_proj output (tests)
};

struct ForwardResult {
  std::vector<int64_t> counts;  // layers * inter, empty when not counted
  int64_t countedTokens = 0;
  std::vector<float> logits;  // logitRows.size() * vocab
  // layers * B*T * inter gate_proj outputs as the backend computed them (bf16 values widened on
  // a bf16 backend), when Batch::wantGates: the values the counts must agree with exactly.
  std::vector<float> gates;
};

struct TrainResult {
  double lossSum = 0;        // summed over labelled rows
  int64_t labelTokens = 0;   // rows whose label is not -100
  std::vector<float> losses; // per logit row
};

enum class ParamPart { Weight, Master, Grad, M, V };

class LlamaModel {
 public:
  LlamaModel(Backend* backend, LlamaConfig cfg);
  const LlamaConfig& config() const { return cfg_; }
  Backend* backend() const { return be_; }

  // Weights by HF name ("model.layers.0.self_attn.q_proj.weight"); shapes checked against config.
  void setWeight(const std::string& name, Tensor t);
  std::vector<std::string> expectedWeights() const;
  Shape expectedShape(const std::string& name) const;  // throws Format for unknown names
  void finalize();  // throws Format naming every missing tensor

  ForwardResult forward(const Batch& b, bool counts);

  void setTrainable(const std::vector<std::string>& names);
  std::vector<std::string> trainable() const;
  // Forward + backward; weight grads accumulate (scaled by lossScale) into the trainable grads.
  TrainResult forwardBackward(const Batch& b, float lossScale);
  void zeroGrad();
  double gradSumSquares();
  void adamwStep(const AdamWParams& p);

  std::vector<float> read(const std::string& name, ParamPart part);
  void write(const std::string& name, ParamPart part, const std::vector<float>& data);

  std::mutex& mutex() { return mu_; }

 private:
  struct Layer {
    Tensor ln1, wq, wk, wv, wo, bq, bk, bv, bo, ln2, wg, wu, wd, bg, bu, bd;
  };
  struct Param {
    std::string name;
    Tensor* weight;  // the model's tensor (replaced by an owned copy when made trainable)
    Tensor master, grad, m, v;
    int layer;
  };
  struct Saved;  // activations of one layer recomputed for the backward pass
  struct Inputs;

  Tensor* slot(const std::string& name);
  Inputs upload(const Batch& b, bool counts, bool labels);
  void layerForward(int li, Tensor& x, const Inputs& in, Tensor* counts, Saved* saved,
                    Tensor* gates = nullptr);
  void layerBackward(int li, const Saved& s, const Inputs& in, Tensor& dy, bool needDx);
  Param* paramFor(const Tensor& t);
  const Tensor& lmHead() const;

  Backend* be_;
  LlamaConfig cfg_;
  Tensor embed_, norm_, lmHead_, invFreq_;
  std::vector<Layer> layers_;
  std::map<std::string, Tensor*> slots_;
  std::vector<std::unique_ptr<Param>> params_;
  int lowestTrainable_ = -1;
  bool finalized_ = false;
  std::mutex mu_;
};

}  // namespace plast
