// What every model built from backend ops offers its callers (the addon, the benchmarks, the
// tests): weights by HF name, a trainable set with its optimizer state (model/params.h), and a
// lock that serialises work on it. A model kind adds its config, declares its weights and
// implements the passes it has; the LLaMA decoder is model/llama.h.
#pragma once
#include <mutex>
#include <string>
#include <vector>

#include "model/params.h"
#include "model/weights.h"
#include "plast/backend.h"

namespace plast {

// A right-padded batch of B rows of T tokens. Row-major flat indices n = b*T + t.
struct Batch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> ids, positions, keyMask;  // B*T each
  std::vector<int32_t> countMask;                // B*T, or empty: no counting
  std::vector<int32_t> logitRows;                // flat rows whose logits are wanted
  std::vector<int32_t> labels;                   // one per logit row (training), -100 = ignore
  // Input embeddings given directly (LLaVA image features): flat rows n whose embedding is
  // embeds[i*hidden .. (i+1)*hidden) instead of the token's. Distinct rows; ids there are unused.
  std::vector<int32_t> embedRows;
  std::vector<float> embeds;                     // embedRows.size() * hidden
  bool wantGates = false;  // forward: also return every layer's gate_proj output (tests)
  // Forward: hidden states (the logit lens). The residual stream at the flat rows `hiddenRows`,
  // gathered after each of `hiddenLayers` (0 = the input embeddings, l + 1 = the output of decoder
  // layer l, before the final norm; empty = all layers + 1) into a small [layers, rows, hidden]
  // tensor, so the activation stack is never kept.
  std::vector<int32_t> hiddenRows;
  std::vector<int32_t> hiddenLayers;
  bool wantHidden = false;      // return those states
  // The lens: the final norm and the LM head applied to each captured state, one layer at a time
  // (on when asked for, or when any of the outputs below is).
  bool lens = false;
  bool wantLensLogits = false;  // return the [layers, rows, vocab] logits (small vocabularies)
  std::vector<int32_t> lensTokens;  // rows * K ids: each state's probability and rank of its row's K
  int32_t lensTopK = 0;             // each state's K most probable tokens
};

struct ForwardResult {
  std::vector<int64_t> counts;  // layers * inter, empty when not counted
  int64_t countedTokens = 0;
  std::vector<float> logits;  // logitRows.size() * vocab
  // layers * B*T * inter gate_proj outputs as the backend computed them (bf16 values widened on
  // a bf16 backend), when Batch::wantGates: the values the counts must agree with exactly.
  std::vector<float> gates;
  // With Batch::hiddenRows: layers x rows x hidden states (wantHidden), layers x rows x vocab
  // logits (wantLensLogits); per state the softmax probability and the rank (1 = the most
  // probable; 1 + the number of tokens with a strictly larger logit) of its row's lensTokens,
  // its top-K ids and probabilities (ties broken by the smaller id) and the entropy of its
  // next-token distribution in nats.
  std::vector<float> hidden, lensLogits, lensProbs, lensTopProbs, lensEntropy;
  std::vector<int32_t> lensRanks, lensTopIds;
  int64_t hiddenLayerCount = 0;
};

struct TrainResult {
  double lossSum = 0;        // summed over labelled rows
  int64_t labelTokens = 0;   // rows whose label is not -100
  std::vector<float> losses; // per logit row
};

// A batch of B images for a vision model: HF pixel_values, NCHW float32.
struct ImageBatch {
  int64_t B = 0;
  std::vector<float> pixels;  // B * channels * height * width
  bool wantHidden = false;    // also return the hidden state the features are taken from
};

struct ImageResult {
  std::vector<float> features;  // B * featuresPerImage * featureDim
  std::vector<float> hidden;    // B * tokensPerImage * hidden, when asked for
};

class Model {
 public:
  explicit Model(Backend* backend) : be_(backend), params_(backend, weights_) {}
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  virtual const char* arch() const = 0;  // the registry key, e.g. "llama"
  Backend* backend() const { return be_; }

  // Weights by HF name ("model.layers.0.self_attn.q_proj.weight"); shapes checked against config.
  void setWeight(const std::string& name, Tensor t) { weights_.set(name, std::move(t)); }
  std::vector<std::string> expectedWeights() const { return weights_.names(); }
  Shape expectedShape(const std::string& name) const { return weights_.shape(name); }  // Format for unknown names
  void finalize();  // throws Format naming every missing tensor

  // Token passes, for models that have them (decoders); others throw Unsupported.
  virtual ForwardResult forward(const Batch& b, bool counts);
  // Forward + backward; weight grads accumulate (scaled by lossScale) into the trainable grads.
  virtual TrainResult forwardBackward(const Batch& b, float lossScale);
  // Image pass, for models that have one (the LLaVA vision tower); others throw Unsupported.
  virtual ImageResult encode(const ImageBatch& b);

  // Training state, held by params_. A model may restrict which tensors train (override).
  virtual void setTrainable(const std::vector<std::string>& names);
  std::vector<std::string> trainable() const { return params_.names(); }
  void zeroGrad() { params_.zeroGrad(); }
  double gradSumSquares() { return params_.gradSumSquares(); }
  void adamwStep(const AdamWParams& p) { params_.adamwStep(p); }
  std::vector<float> read(const std::string& name, ParamPart part) { return params_.read(name, part); }
  void write(const std::string& name, ParamPart part, const std::vector<float>& data) {
    params_.write(name, part, data);
  }

  std::mutex& mutex() { return mu_; }

 protected:
  Backend* be_;
  WeightTable weights_;  // declared before params_, which refers to it
  Params params_;
  bool finalized_ = false;

 private:
  std::mutex mu_;
};

}  // namespace plast
