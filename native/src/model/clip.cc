#include "model/clip.h"

#include <cmath>
#include <sstream>

#include "model/host.h"

namespace plast {

GeluKind geluKindFromHf(const std::string& name, const char* field) {
  if (name == "gelu") return GeluKind::Erf;
  if (name == "quick_gelu") return GeluKind::Quick;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return GeluKind::Tanh;
  PLAST_FAIL(Code::Unsupported, field << " \"" << name
                                      << "\" is not supported (supported: gelu, quick_gelu, "
                                         "gelu_new, gelu_pytorch_tanh)");
}

int64_t resolveFeatureLayer(int64_t layer, int64_t layers) {
  int64_t k = layer < 0 ? layers + 1 + layer : layer;
  PLAST_CHECK(k >= 0 && k <= layers, Code::Invalid,
              "vision_feature_layer " << layer << " is outside the tower's " << layers + 1
                                      << " hidden states (expected an index in [" << -(layers + 1)
                                      << ", " << layers << "])");
  return k;
}

bool dropClsFromStrategy(const std::string& strategy) {
  if (strategy == "default") return true;
  if (strategy == "full") return false;
  PLAST_FAIL(Code::Unsupported, "vision_feature_select_strategy \""
                                    << strategy << "\" is not supported (supported: default, full)");
}

ClipLlavaModel::ClipLlavaModel(Backend* backend, ClipConfig cfg) : Model(backend), cfg_(std::move(cfg)) {
  const ClipConfig& c = cfg_;
  PLAST_CHECK(c.hidden > 0 && c.inter > 0 && c.layers > 0 && c.heads > 0 && c.imageSize > 0 &&
                  c.patchSize > 0 && c.channels > 0 && c.textHidden > 0,
              Code::Format, "vision config: hidden_size, intermediate_size, num_hidden_layers, "
                            "num_attention_heads, image_size, patch_size, num_channels and the "
                            "text hidden_size must all be positive");
  PLAST_CHECK(c.hidden % c.heads == 0, Code::Format,
              "vision config: hidden_size (" << c.hidden << ") is not divisible by num_attention_heads ("
                                             << c.heads << ")");
  PLAST_CHECK(c.patchSize <= c.imageSize, Code::Format,
              "vision config: patch_size (" << c.patchSize << ") is larger than image_size ("
                                            << c.imageSize << ")");
  PLAST_CHECK(c.featureLayer >= 0 && c.featureLayer <= c.layers, Code::Invalid,
              "vision config: feature layer " << c.featureLayer << " is outside [0, " << c.layers
                                              << "] (resolve negative indices first)");
  // The ops only the CPU reference has so far: say so now, before any weight is uploaded.
  DType A = be_->activationDType();
  std::ostringstream missing;
  int nMissing = 0;
  for (Op op : {Op::LayerNorm, Op::Gelu, Op::Attention, Op::Linear, Op::Gather, Op::Embedding})
    if (!be_->supportsOp(op, A)) missing << (nMissing++ ? ", " : "") << opName(op);
  PLAST_CHECK(nMissing == 0, Code::Unsupported,
              "the " << be_->name() << " backend cannot run the CLIP vision tower yet: "
                     << missing.str() << (nMissing > 1 ? " are" : " is")
                     << " not implemented there (the cpu backend has them)");
  layers_.resize(static_cast<size_t>(c.featureLayer));
  declareWeights();
}

void ClipLlavaModel::setTrainable(const std::vector<std::string>& names) {
  PLAST_CHECK(names.empty(), Code::Unsupported,
              "the vision tower and projector are frozen: '" << names.front() << "' cannot be trained");
  params_.clear();
}

void ClipLlavaModel::layerForward(int li, Tensor& x, const Tensor& keyMask, int64_t B) {
  const ClipConfig& c = cfg_;
  const Layer& L = layers_[li];
  DType A = be_->activationDType();
  const int64_t N = x.dim(0), H = c.hidden, T = N / B, D = c.headDim();
  Tensor h = be_->empty({N, H}, A);
  be_->layernorm(x, L.ln1w, &L.ln1b, c.eps, h);
  Tensor q = be_->empty({N, H}, A), k = be_->empty({N, H}, A), v = be_->empty({N, H}, A);
  be_->linear(h, L.wq, &L.bq, q);
  be_->linear(h, L.wk, &L.bk, k);
  be_->linear(h, L.wv, &L.bv, v);
  Tensor a = be_->empty({N, H}, A);
  Tensor a4 = a.view({B, T, c.heads, D});
  be_->attention(q.view({B, T, c.heads, D}), k.view({B, T, c.heads, D}), v.view({B, T, c.heads, D}),
                 keyMask, 1.0f / std::sqrt(static_cast<float>(D)), AttnMask::full(), a4, nullptr);
  q = k = v = Tensor();
  Tensor o = be_->empty({N, H}, A);
  be_->linear(a, L.wo, &L.bo, o);
  Tensor x2 = be_->empty({N, H}, A);
  be_->add(x, o, x2);
  be_->layernorm(x2, L.ln2w, &L.ln2b, c.eps, h);
  Tensor m = be_->empty({N, c.inter}, A);
  be_->linear(h, L.w1, &L.b1, m);
  be_->gelu(m, c.act, m);
  be_->linear(m, L.w2, &L.b2, o);
  Tensor y = be_->empty({N, H}, A);
  be_->add(x2, o, y);
  x = y;
}

ImageResult ClipLlavaModel::encode(const ImageBatch& b) {
  const ClipConfig& c = cfg_;
  PLAST_CHECK(finalized_, Code::Invalid, "the model has no weights loaded yet");
  PLAST_CHECK(b.B > 0, Code::Invalid, "images: expected a positive batch size but received " << b.B);
  const int64_t S = c.imageSize, p = c.patchSize, g = c.grid(), C = c.channels;
  const int64_t P = c.patches(), T = c.tokens(), H = c.hidden, K = C * p * p, B = b.B;
  const int64_t perImage = C * S * S;
  PLAST_CHECK(static_cast<int64_t>(b.pixels.size()) == B * perImage, Code::Shape,
              "images: expected pixel values of shape [" << B << ", " << C << ", " << S << ", " << S
                                                         << "] (" << B * perImage
                                                         << " values) but received " << b.pixels.size());
  DType A = be_->activationDType();

  // im2col: row b*P + gy*g + gx holds patch (gy, gx) of image b, columns in the conv weight's
  // [C, p, p] order, so that the patch embedding is one GEMM with the weight viewed [H, C*p*p].
  std::vector<float> cols(static_cast<size_t>(B * P * K));
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t gy = 0; gy < g; ++gy)
      for (int64_t gx = 0; gx < g; ++gx) {
        float* row = cols.data() + ((bi * P + gy * g + gx) * K);
        for (int64_t ch = 0; ch < C; ++ch)
          for (int64_t ky = 0; ky < p; ++ky) {
            const float* src = b.pixels.data() + bi * perImage + ch * S * S + (gy * p + ky) * S + gx * p;
            float* dst = row + (ch * p + ky) * p;
            for (int64_t kx = 0; kx < p; ++kx) dst[kx] = src[kx];
          }
      }
  Tensor patches = uploadActivations(be_, cols, {B * P, K});
  cols = std::vector<float>();

  // Row 0: the class embedding; rows 1..B*P: the patch embeddings. A gather then lays out
  // [CLS, patches of image b] per image, and the position embeddings are added by position id.
  Tensor emb = be_->empty({B * P + 1, H}, A);
  Tensor embPatches = emb.rows(1, B * P + 1);
  be_->linear(patches, patchW_.view({H, K}), nullptr, embPatches);
  patches = Tensor();
  Tensor embCls = emb.rows(0, 1);
  be_->cast(classEmb_, embCls);
  std::vector<int32_t> order(static_cast<size_t>(B * T)), pos(static_cast<size_t>(B * T));
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t t = 0; t < T; ++t) {
      order[bi * T + t] = t == 0 ? 0 : static_cast<int32_t>(1 + bi * P + (t - 1));
      pos[bi * T + t] = static_cast<int32_t>(t);
    }
  Tensor x = be_->empty({B * T, H}, A);
  be_->gather(emb, uploadI32(be_, order, {B * T}), x);
  emb = embPatches = embCls = Tensor();
  Tensor pe = be_->empty({B * T, H}, A);
  be_->embedding(posEmb_, uploadI32(be_, pos, {B * T}), pe);
  be_->add(x, pe, x);
  pe = Tensor();
  Tensor h = be_->empty({B * T, H}, A);
  be_->layernorm(x, preLnW_, &preLnB_, c.eps, h);
  x = h;
  h = Tensor();

  // Every key is real: the tower sees whole images.
  std::vector<int32_t> ones(static_cast<size_t>(B * T), 1);
  Tensor keyMask = be_->empty({B, T}, DType::I32);
  be_->upload(keyMask, ones.data());
  for (int li = 0; li < static_cast<int>(c.featureLayer); ++li) layerForward(li, x, keyMask, B);

  ImageResult r;
  if (b.wantHidden) r.hidden = downloadF32(be_, x);
  Tensor sel = x;
  const int64_t F = c.features();
  if (c.dropCls) {
    std::vector<int32_t> keep(static_cast<size_t>(B * F));
    for (int64_t bi = 0; bi < B; ++bi)
      for (int64_t f = 0; f < F; ++f) keep[bi * F + f] = static_cast<int32_t>(bi * T + 1 + f);
    sel = be_->empty({B * F, H}, A);
    be_->gather(x, uploadI32(be_, keep, {B * F}), sel);
  }
  x = Tensor();
  Tensor p1 = be_->empty({B * F, c.textHidden}, A);
  be_->linear(sel, proj1W_, c.projectorBias ? &proj1B_ : nullptr, p1);
  sel = Tensor();
  be_->gelu(p1, c.projectorAct, p1);
  Tensor p2 = be_->empty({B * F, c.textHidden}, A);
  be_->linear(p1, proj2W_, c.projectorBias ? &proj2B_ : nullptr, p2);
  r.features = downloadF32(be_, p2);
  return r;
}

}  // namespace plast
