// The vision side of a LLaVA checkpoint built from backend ops: the CLIP vision tower up to the
// hidden state LLaVA takes (`vision_feature_layer`), the feature selection (`default` drops CLS)
// and the multimodal projector (linear -> GELU -> linear). Forward only: PLAST keeps the tower and
// projector frozen, so the model has no trainable tensors and no backward pass.
//
//   pixels [B, C, S, S] --im2col on the host--> [B*P, C*p*p] (P = (S/p)^2 patches, row-major)
//   patch embedding: a GEMM with the conv weight viewed as [hidden, C*p*p] (no bias)
//   [CLS; patches] + position embeddings -> pre_layrnorm
//   encoder layers 0 .. featureLayer-1: x += out_proj(attn(LN1 x)); x += fc2(act(fc1(LN2 x)))
//   -> hidden state `featureLayer` (HF hidden_states[vision_feature_layer]) -> drop CLS (default)
//   -> projector linear_1 -> projector act -> linear_2 -> features [B, P or P+1, textHidden]
//
// HF names (clip_weights.cc) are those transformers 5 writes for LlavaForConditionalGeneration
// (vision_tower.embeddings.*, vision_tower.encoder.layers.<i>.*, multi_modal_projector.*); other
// layouts (vision_tower.vision_model.*, model.* prefixes) are mapped to them by the loader
// (src/model/vision.ts). Layers past the feature layer and post_layernorm are not declared: LLaVA
// never runs them.
#pragma once
#include <string>
#include <vector>

#include "model/model.h"

namespace plast {

struct ClipConfig {
  int64_t hidden = 0, inter = 0, layers = 0, heads = 0;  // vision_config
  int64_t imageSize = 0, patchSize = 0, channels = 3;
  float eps = 1e-5f;                    // layer_norm_eps
  GeluKind act = GeluKind::Quick;       // vision_config.hidden_act
  int64_t textHidden = 0;               // the projector's output (text_config.hidden_size)
  int64_t featureLayer = 0;             // index into hidden_states, in [0, layers] (negatives resolved)
  bool dropCls = true;                  // vision_feature_select_strategy "default" (else "full")
  bool projectorBias = true;            // multimodal_projector_bias
  GeluKind projectorAct = GeluKind::Erf;  // projector_hidden_act

  int64_t grid() const { return imageSize / patchSize; }
  int64_t patches() const { return grid() * grid(); }
  int64_t tokens() const { return patches() + 1; }        // CLS + patches
  int64_t features() const { return dropCls ? patches() : tokens(); }  // per image
  int64_t headDim() const { return hidden / heads; }
};

// HF's activation names (transformers ACT2FN) the GELU op runs: "gelu" (erf), "quick_gelu",
// "gelu_new" / "gelu_pytorch_tanh" (tanh approximation). Anything else is Unsupported naming `field`
// and the value.
GeluKind geluKindFromHf(const std::string& name, const char* field);
// vision_feature_layer (may be negative, as a Python index into the layers+1 hidden states) to an
// index in [0, layers]; Invalid when out of range.
int64_t resolveFeatureLayer(int64_t layer, int64_t layers);
// vision_feature_select_strategy: "default" drops CLS (true), "full" keeps it; else Unsupported.
bool dropClsFromStrategy(const std::string& strategy);

class ClipLlavaModel : public Model {
 public:
  ClipLlavaModel(Backend* backend, ClipConfig cfg);
  const char* arch() const override { return "clip_llava"; }
  const ClipConfig& config() const { return cfg_; }

  ImageResult encode(const ImageBatch& b) override;
  // Frozen: no tensor of the tower or projector trains.
  void setTrainable(const std::vector<std::string>& names) override;

 private:
  struct Layer {
    Tensor ln1w, ln1b, wq, bq, wk, bk, wv, bv, wo, bo, ln2w, ln2b, w1, b1, w2, b2;
  };
  void declareWeights();  // clip_weights.cc
  void layerForward(int li, Tensor& x, const Tensor& keyMask, int64_t B);

  ClipConfig cfg_;
  Tensor patchW_, classEmb_, posEmb_, preLnW_, preLnB_;
  Tensor proj1W_, proj1B_, proj2W_, proj2B_;
  std::vector<Layer> layers_;  // the first featureLayer encoder layers only
};

}  // namespace plast
