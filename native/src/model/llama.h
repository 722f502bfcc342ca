// The LLaMA-family decoder (llama, mistral, qwen2 and the language model of LLaVA) built from
// backend ops: forward with per-layer gate-positivity counts, logits only at requested rows, and a
// backward pass that computes weight gradients for the trainable tensors only and stops below the
// lowest trainable layer. HF weight names and shapes: llama_weights.cc; optimizer state: the
// Params of the Model base (model/params.h).
#pragma once
#include <string>
#include <vector>

#include "model/model.h"

namespace plast {

struct LlamaConfig {
  int64_t vocab = 0, hidden = 0, inter = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0;
  float eps = 1e-6f;
  bool qkvBias = false, oBias = false, mlpBias = false, tied = false;
  int window = 0;              // sliding-window attention (0 = none)
  std::vector<float> invFreq;  // RoPE inverse frequencies, headDim/2 (rope scaling applied)
  float ropeAttnScaling = 1.0f;
};

class LlamaModel : public Model {
 public:
  LlamaModel(Backend* backend, LlamaConfig cfg);
  const char* arch() const override { return "llama"; }
  const LlamaConfig& config() const { return cfg_; }

  ForwardResult forward(const Batch& b, bool counts) override;
  // Decoder-layer tensors only ("model.layers.<i>."); the backward pass stops below the lowest.
  void setTrainable(const std::vector<std::string>& names) override;
  TrainResult forwardBackward(const Batch& b, float lossScale) override;

 private:
  struct Layer {
    Tensor ln1, wq, wk, wv, wo, bq, bk, bv, bo, ln2, wg, wu, wd, bg, bu, bd;
  };
  struct Saved;  // activations of one layer recomputed for the backward pass
  struct Inputs;

  void declareWeights();  // llama_weights.cc
  Inputs upload(const Batch& b, bool counts, bool labels);
  Tensor embedInputs(const Inputs& in);
  void layerForward(int li, Tensor& x, const Inputs& in, Tensor* counts, Saved* saved,
                    Tensor* gates = nullptr);
  void layerBackward(int li, const Saved& s, const Inputs& in, Tensor& dy, bool needDx);
  const Tensor& lmHead() const;
  // The logit lens of Batch::hiddenRows over the captured [layers * rows, hidden] states.
  void lens(const Batch& b, const Tensor& captured, int64_t layers, ForwardResult& r);

  LlamaConfig cfg_;
  Tensor embed_, norm_, lmHead_, invFreq_;
  std::vector<Layer> layers_;
  int lowestTrainable_ = -1;
};

// HF names of decoder-layer tensors: this prefix, the layer index, ".", the leaf name
// ("model.layers.3.mlp.up_proj.weight"). Every other tensor (embeddings, final norm, LM head) is
// outside the layers.
inline constexpr const char* kLlamaLayerPrefix = "model.layers.";

}  // namespace plast
