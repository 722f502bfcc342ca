// The decoder's HF weight names, which of them the config turns on (biases, an untied LM head),
// and the shape each must have.
#include "model/llama.h"

namespace plast {

void LlamaModel::declareWeights() {
  const LlamaConfig& c = cfg_;
  const int64_t qd = c.heads * c.headDim, kd = c.kvHeads * c.headDim;
  weights_.declare("model.embed_tokens.weight", &embed_, {c.vocab, c.hidden});
  weights_.declare("model.norm.weight", &norm_, {c.hidden});
  if (!c.tied) weights_.declare("lm_head.weight", &lmHead_, {c.vocab, c.hidden});
  for (int i = 0; i < c.layers; ++i) {
    Layer& L = layers_[i];
    auto add = [&](const char* leaf, Tensor* slot, Shape shape) {
      weights_.declare(kLlamaLayerPrefix + std::to_string(i) + "." + leaf, slot, std::move(shape));
    };
    add("input_layernorm.weight", &L.ln1, {c.hidden});
    add("post_attention_layernorm.weight", &L.ln2, {c.hidden});
    add("self_attn.q_proj.weight", &L.wq, {qd, c.hidden});
    add("self_attn.k_proj.weight", &L.wk, {kd, c.hidden});
    add("self_attn.v_proj.weight", &L.wv, {kd, c.hidden});
    add("self_attn.o_proj.weight", &L.wo, {c.hidden, qd});
    if (c.qkvBias) {  // qwen2
      add("self_attn.q_proj.bias", &L.bq, {qd});
      add("self_attn.k_proj.bias", &L.bk, {kd});
      add("self_attn.v_proj.bias", &L.bv, {kd});
    }
    if (c.oBias) add("self_attn.o_proj.bias", &L.bo, {c.hidden});
    add("mlp.gate_proj.weight", &L.wg, {c.inter, c.hidden});
    add("mlp.up_proj.weight", &L.wu, {c.inter, c.hidden});
    add("mlp.down_proj.weight", &L.wd, {c.hidden, c.inter});
    if (c.mlpBias) {
      add("mlp.gate_proj.bias", &L.bg, {c.inter});
      add("mlp.up_proj.bias", &L.bu, {c.inter});
      add("mlp.down_proj.bias", &L.bd, {c.hidden});
    }
  }
}

}  // namespace plast
