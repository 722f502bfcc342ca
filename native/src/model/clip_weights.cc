// The vision tower's and projector's HF weight names (as transformers 5 writes a LLaVA
// checkpoint) and the shape each must have. Only the encoder layers below the feature layer are
// declared, and not post_layernorm: LLaVA's features never pass through them.
#include "model/clip.h"

namespace plast {

void ClipLlavaModel::declareWeights() {
  const ClipConfig& c = cfg_;
  const int64_t H = c.hidden, p = c.patchSize;
  const std::string t = "vision_tower.";
  weights_.declare(t + "embeddings.patch_embedding.weight", &patchW_, {H, c.channels, p, p});
  weights_.declare(t + "embeddings.class_embedding", &classEmb_, {H});
  weights_.declare(t + "embeddings.position_embedding.weight", &posEmb_, {c.tokens(), H});
  weights_.declare(t + "pre_layrnorm.weight", &preLnW_, {H});  // sic: HF's name
  weights_.declare(t + "pre_layrnorm.bias", &preLnB_, {H});
  for (int64_t i = 0; i < c.featureLayer; ++i) {
    Layer& L = layers_[i];
    auto add = [&](const char* leaf, Tensor* slot, Shape shape) {
      weights_.declare(t + "encoder.layers." + std::to_string(i) + "." + leaf, slot, std::move(shape));
    };
    add("layer_norm1.weight", &L.ln1w, {H});
    add("layer_norm1.bias", &L.ln1b, {H});
    add("self_attn.q_proj.weight", &L.wq, {H, H});
    add("self_attn.q_proj.bias", &L.bq, {H});
    add("self_attn.k_proj.weight", &L.wk, {H, H});
    add("self_attn.k_proj.bias", &L.bk, {H});
    add("self_attn.v_proj.weight", &L.wv, {H, H});
    add("self_attn.v_proj.bias", &L.bv, {H});
    add("self_attn.out_proj.weight", &L.wo, {H, H});
    add("self_attn.out_proj.bias", &L.bo, {H});
    add("layer_norm2.weight", &L.ln2w, {H});
    add("layer_norm2.bias", &L.ln2b, {H});
    add("mlp.fc1.weight", &L.w1, {c.inter, H});
    add("mlp.fc1.bias", &L.b1, {c.inter});
    add("mlp.fc2.weight", &L.w2, {H, c.inter});
    add("mlp.fc2.bias", &L.b2, {H});
  }
  const std::string m = "multi_modal_projector.";
  weights_.declare(m + "linear_1.weight", &proj1W_, {c.textHidden, H});
  weights_.declare(m + "linear_2.weight", &proj2W_, {c.textHidden, c.textHidden});
  if (c.projectorBias) {
    weights_.declare(m + "linear_1.bias", &proj1B_, {c.textHidden});
    weights_.declare(m + "linear_2.bias", &proj2B_, {c.textHidden});
  }
}

}  // namespace plast
