#include "model/llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "model/host.h"

namespace plast {

struct LlamaModel::Inputs {
  int64_t B = 0, T = 0, N = 0, counted = 0;
  Tensor ids, positions, keyMask, countMask, logitRows, labels;
  // Given embeddings (image features): the rows they go to, the other rows and their ids.
  Tensor embedRows, embeds, textRows, textIds;
};

// Everything the backward pass of one layer needs, recomputed from the layer's input.
struct LlamaModel::Saved {
  Tensor x, h1, rstd1, q, k, v, a, lse, x2, h2, rstd2, g, u, m;
};

LlamaModel::LlamaModel(Backend* backend, LlamaConfig cfg) : Model(backend), cfg_(std::move(cfg)) {
  const LlamaConfig& c = cfg_;
  PLAST_CHECK(c.vocab > 0 && c.hidden > 0 && c.inter > 0 && c.layers > 0 && c.heads > 0 &&
                  c.kvHeads > 0 && c.headDim > 0,
              Code::Format, "model config: vocab, hidden, intermediate, layers, heads, kv heads "
                            "and head dim must all be positive");
  PLAST_CHECK(c.heads % c.kvHeads == 0, Code::Format,
              "model config: num_attention_heads (" << c.heads
                                                    << ") must be a multiple of num_key_value_heads ("
                                                    << c.kvHeads << ")");
  PLAST_CHECK(c.headDim % 2 == 0, Code::Format, "model config: head_dim must be even for RoPE");
  PLAST_CHECK(static_cast<int64_t>(c.invFreq.size()) == c.headDim / 2, Code::Format,
              "model config: expected " << c.headDim / 2 << " RoPE inverse frequencies but received "
                                        << c.invFreq.size());
  invFreq_ = be_->empty({c.headDim / 2}, DType::F32);
  be_->upload(invFreq_, c.invFreq.data());
  layers_.resize(c.layers);
  declareWeights();
}

const Tensor& LlamaModel::lmHead() const { return cfg_.tied ? embed_ : lmHead_; }

LlamaModel::Inputs LlamaModel::upload(const Batch& b, bool counts, bool labels) {
  PLAST_CHECK(finalized_, Code::Invalid, "the model has no weights loaded yet");
  PLAST_CHECK(b.B > 0 && b.T > 0, Code::Shape,
              "batch: expected positive rows and columns but received " << b.B << " x " << b.T);
  size_t N = static_cast<size_t>(b.B * b.T);
  PLAST_CHECK(b.ids.size() == N && b.positions.size() == N && b.keyMask.size() == N, Code::Shape,
              "batch: ids, positions and keyMask must each hold B*T = " << N << " values");
  // Rows whose embedding is given (image features): their ids are placeholders, not looked up.
  std::vector<uint8_t> given(N, 0);
  PLAST_CHECK(b.embeds.size() == b.embedRows.size() * static_cast<size_t>(cfg_.hidden), Code::Shape,
              "batch: embeds must hold one row of hidden size " << cfg_.hidden << " per embed row ("
                  << b.embedRows.size() << " rows, " << b.embedRows.size() * cfg_.hidden
                  << " values) but holds " << b.embeds.size() << " values");
  for (int32_t r : b.embedRows) {
    PLAST_CHECK(r >= 0 && static_cast<size_t>(r) < N, Code::Invalid,
                "batch: embed row " << r << " is outside [0, " << N << ")");
    PLAST_CHECK(!given[r], Code::Invalid, "batch: embed row " << r << " is given twice");
    given[r] = 1;
  }
  for (size_t i = 0; i < N; ++i) {
    if (given[i]) continue;
    PLAST_CHECK(b.ids[i] >= 0 && b.ids[i] < cfg_.vocab, Code::Invalid,
                "batch: token id " << b.ids[i] << " at row " << i / b.T << ", column " << i % b.T
                                   << " is outside the vocabulary [0, " << cfg_.vocab << ")");
    PLAST_CHECK(b.positions[i] >= 0, Code::Invalid, "batch: negative position at " << i);
  }
  Inputs in;
  in.B = b.B;
  in.T = b.T;
  in.N = static_cast<int64_t>(N);
  if (!b.embedRows.empty()) {
    std::vector<int32_t> textRows, textIds;
    for (size_t i = 0; i < N; ++i)
      if (!given[i]) {
        textRows.push_back(static_cast<int32_t>(i));
        textIds.push_back(b.ids[i]);
      }
    int64_t R = static_cast<int64_t>(b.embedRows.size()), Nt = static_cast<int64_t>(textRows.size());
    in.embedRows = uploadI32(be_, b.embedRows, {R});
    in.embeds = uploadActivations(be_, b.embeds, {R, cfg_.hidden});
    if (Nt > 0) {
      in.textRows = uploadI32(be_, textRows, {Nt});
      in.textIds = uploadI32(be_, textIds, {Nt});
    }
  } else {
    in.ids = uploadI32(be_, b.ids, {in.N});
  }
  in.positions = uploadI32(be_, b.positions, {in.N});
  in.keyMask = uploadI32(be_, b.keyMask, {b.B, b.T});
  if (counts) {
    PLAST_CHECK(b.countMask.size() == N, Code::Shape,
                "batch: countMask must hold B*T = " << N << " values but holds " << b.countMask.size());
    in.countMask = uploadI32(be_, b.countMask, {in.N});
    for (int32_t m : b.countMask) in.counted += m != 0;
  }
  for (int32_t r : b.logitRows)
    PLAST_CHECK(r >= 0 && static_cast<size_t>(r) < N, Code::Invalid,
                "batch: logit row " << r << " is outside [0, " << N << ")");
  if (!b.logitRows.empty())
    in.logitRows = uploadI32(be_, b.logitRows, {static_cast<int64_t>(b.logitRows.size())});
  if (labels) {
    PLAST_CHECK(b.labels.size() == b.logitRows.size(), Code::Shape,
                "batch: expected one label per logit row (" << b.logitRows.size() << ") but received "
                                                            << b.labels.size());
    PLAST_CHECK(!b.labels.empty(), Code::Invalid, "batch: a training batch needs labelled rows");
    in.labels = uploadI32(be_, b.labels, {static_cast<int64_t>(b.labels.size())});
  }
  return in;
}

// The decoder's input: token embeddings, with the given rows (image features) in place of theirs.
// Composed as zeros + scatter of both parts, so each row is exactly its embedding or feature.
Tensor LlamaModel::embedInputs(const Inputs& in) {
  DType A = be_->activationDType();
  if (!in.embedRows.defined()) {
    Tensor x = be_->empty({in.N, cfg_.hidden}, A);
    be_->embedding(embed_, in.ids, x);
    return x;
  }
  Tensor x = be_->zeros({in.N, cfg_.hidden}, A);
  if (in.textRows.defined()) {
    Tensor t = be_->empty({in.textRows.dim(0), cfg_.hidden}, A);
    be_->embedding(embed_, in.textIds, t);
    be_->scatterAdd(t, in.textRows, x);
  }
  be_->scatterAdd(in.embeds, in.embedRows, x);
  return x;
}

void LlamaModel::layerForward(int li, Tensor& x, const Inputs& in, Tensor* counts, Saved* s,
                              Tensor* gates) {
  const LlamaConfig& c = cfg_;
  const Layer& L = layers_[li];
  DType A = be_->activationDType();
  int64_t N = in.N, H = c.hidden, D = c.headDim;
  Saved local;
  Saved& S = s ? *s : local;
  S.x = x;
  S.h1 = be_->empty({N, H}, A);
  S.rstd1 = be_->empty({N}, DType::F32);
  be_->rmsnorm(x, L.ln1, c.eps, S.h1, &S.rstd1);
  S.q = be_->empty({N, c.heads * D}, A);
  S.k = be_->empty({N, c.kvHeads * D}, A);
  S.v = be_->empty({N, c.kvHeads * D}, A);
  be_->linear(S.h1, L.wq, L.bq.defined() ? &L.bq : nullptr, S.q);
  be_->linear(S.h1, L.wk, L.bk.defined() ? &L.bk : nullptr, S.k);
  be_->linear(S.h1, L.wv, L.bv.defined() ? &L.bv : nullptr, S.v);
  Tensor q3 = S.q.view({N, c.heads, D}), k3 = S.k.view({N, c.kvHeads, D});
  be_->rope(q3, in.positions, invFreq_, c.ropeAttnScaling, false);
  be_->rope(k3, in.positions, invFreq_, c.ropeAttnScaling, false);
  S.a = be_->empty({N, c.heads * D}, A);
  S.lse = be_->empty({in.B, c.heads, in.T}, DType::F32);
  Tensor a4 = S.a.view({in.B, in.T, c.heads, D});
  be_->attention(S.q.view({in.B, in.T, c.heads, D}), S.k.view({in.B, in.T, c.kvHeads, D}),
                 S.v.view({in.B, in.T, c.kvHeads, D}), in.keyMask,
                 1.0f / std::sqrt(static_cast<float>(D)), c.window, a4, &S.lse);
  Tensor o = be_->empty({N, H}, A);
  be_->linear(S.a, L.wo, L.bo.defined() ? &L.bo : nullptr, o);
  S.x2 = be_->empty({N, H}, A);
  be_->add(x, o, S.x2);
  o = Tensor();
  S.h2 = be_->empty({N, H}, A);
  S.rstd2 = be_->empty({N}, DType::F32);
  be_->rmsnorm(S.x2, L.ln2, c.eps, S.h2, &S.rstd2);
  S.m = be_->empty({N, c.inter}, A);
  Tensor countRow;
  if (counts) countRow = counts->rows(li, li + 1).view({c.inter});
  const Tensor* cm = counts ? &in.countMask : nullptr;
  Tensor* cr = counts ? &countRow : nullptr;
  // gates (optional, tests): this layer's rows of a [layers, N, inter] tensor receive g.
  Tensor gRow;
  if (gates) gRow = gates->rows(li, li + 1).view({N, c.inter});
  if (c.mlpBias) {
    S.g = gates ? gRow : be_->empty({N, c.inter}, A);
    S.u = be_->empty({N, c.inter}, A);
    be_->linear(S.h2, L.wg, &L.bg, S.g);
    be_->linear(S.h2, L.wu, &L.bu, S.u);
    be_->swiglu(S.g, S.u, cm, cr, S.m);
  } else if (s) {
    S.g = be_->empty({N, c.inter}, A);
    S.u = be_->empty({N, c.inter}, A);
    be_->ffnUp(S.h2, L.wg, L.wu, cm, cr, S.m, &S.g, &S.u);
  } else {
    be_->ffnUp(S.h2, L.wg, L.wu, cm, cr, S.m, gates ? &gRow : nullptr, nullptr);
  }
  Tensor d = be_->empty({N, H}, A);
  be_->linear(S.m, L.wd, L.bd.defined() ? &L.bd : nullptr, d);
  Tensor y = be_->empty({N, H}, A);
  be_->add(S.x2, d, y);
  x = y;
}

void LlamaModel::layerBackward(int li, const Saved& S, const Inputs& in, Tensor& dy, bool needDx) {
  const LlamaConfig& c = cfg_;
  Layer& L = layers_[li];
  DType A = be_->activationDType();
  int64_t N = in.N, H = c.hidden, D = c.headDim;
  auto wgrad = [&](Tensor& w, Tensor& b, const Tensor& dout, const Tensor& xin) {
    Params::Param* pw = params_.forWeight(w);
    Params::Param* pb = b.defined() ? params_.forWeight(b) : nullptr;
    if (pw) {
      be_->linearBackwardWeight(dout, xin, pw->grad, pb ? &pb->grad : nullptr);
    } else if (pb) {  // bias alone: dW goes to a scratch buffer
      Tensor scratch = be_->zeros(w.shape, DType::F32);
      be_->linearBackwardWeight(dout, xin, scratch, &pb->grad);
    }
  };
  // y = x2 + down(m)
  wgrad(L.wd, L.bd, dy, S.m);
  Tensor dm = be_->empty({N, c.inter}, A);
  be_->linearBackwardInput(dy, L.wd, dm, false);
  Tensor dg = be_->empty({N, c.inter}, A), du = be_->empty({N, c.inter}, A);
  be_->swigluBackward(dm, S.g, S.u, dg, du);
  dm = Tensor();
  wgrad(L.wg, L.bg, dg, S.h2);
  wgrad(L.wu, L.bu, du, S.h2);
  Tensor dh2 = be_->empty({N, H}, A);
  be_->linearBackwardInput(dg, L.wg, dh2, false);
  be_->linearBackwardInput(du, L.wu, dh2, true);
  dg = du = Tensor();
  Params::Param* pln2 = params_.forWeight(L.ln2);
  be_->rmsnormBackward(dh2, S.x2, L.ln2, S.rstd2, dy, true, pln2 ? &pln2->grad : nullptr);
  dh2 = Tensor();
  // x2 = x + o_proj(a); dy now holds dL/dx2
  wgrad(L.wo, L.bo, dy, S.a);
  Tensor da = be_->empty({N, c.heads * D}, A);
  be_->linearBackwardInput(dy, L.wo, da, false);
  Tensor dq = be_->empty({N, c.heads * D}, A);
  Tensor dk = be_->empty({N, c.kvHeads * D}, A), dv = be_->empty({N, c.kvHeads * D}, A);
  Tensor dq4 = dq.view({in.B, in.T, c.heads, D}), dk4 = dk.view({in.B, in.T, c.kvHeads, D}),
         dv4 = dv.view({in.B, in.T, c.kvHeads, D});
  be_->attentionBackward(da.view({in.B, in.T, c.heads, D}), S.q.view({in.B, in.T, c.heads, D}),
                         S.k.view({in.B, in.T, c.kvHeads, D}), S.v.view({in.B, in.T, c.kvHeads, D}),
                         in.keyMask, S.a.view({in.B, in.T, c.heads, D}), S.lse,
                         1.0f / std::sqrt(static_cast<float>(D)), c.window, dq4, dk4, dv4);
  da = Tensor();
  Tensor dq3 = dq.view({N, c.heads, D}), dk3 = dk.view({N, c.kvHeads, D});
  be_->rope(dq3, in.positions, invFreq_, c.ropeAttnScaling, true);
  be_->rope(dk3, in.positions, invFreq_, c.ropeAttnScaling, true);
  wgrad(L.wq, L.bq, dq, S.h1);
  wgrad(L.wk, L.bk, dk, S.h1);
  wgrad(L.wv, L.bv, dv, S.h1);
  Params::Param* pln1 = params_.forWeight(L.ln1);
  if (needDx || pln1) {
    Tensor dh1 = be_->empty({N, H}, A);
    be_->linearBackwardInput(dq, L.wq, dh1, false);
    be_->linearBackwardInput(dk, L.wk, dh1, true);
    be_->linearBackwardInput(dv, L.wv, dh1, true);
    if (needDx) {
      be_->rmsnormBackward(dh1, S.x, L.ln1, S.rstd1, dy, true, pln1 ? &pln1->grad : nullptr);
    } else {
      Tensor scratch = be_->empty({N, H}, A);
      be_->rmsnormBackward(dh1, S.x, L.ln1, S.rstd1, scratch, false, &pln1->grad);
    }
  }
}

ForwardResult LlamaModel::forward(const Batch& b, bool counts) {
  const LlamaConfig& c = cfg_;
  Inputs in = upload(b, counts, false);
  DType A = be_->activationDType();
  Tensor x = embedInputs(in);
  Tensor cnt, gates;
  if (counts) cnt = be_->zeros({c.layers, c.inter}, DType::I64);
  if (b.wantGates) gates = be_->empty({c.layers, in.N, c.inter}, A);
  // Hidden states at selected rows (the lens): slot h of `captured` receives the state after
  // layer hiddenLayers[h] - 1 (0: the embeddings), gathered as soon as it exists.
  const bool lensOut = b.lens || b.wantLensLogits || !b.lensTokens.empty() || b.lensTopK > 0;
  const bool capture = b.wantHidden || lensOut;
  std::vector<int32_t> slots;  // hidden-state index of each captured layer, in order
  Tensor hiddenRows, captured;
  int64_t R = static_cast<int64_t>(b.hiddenRows.size());
  if (capture) {
    PLAST_CHECK(R > 0, Code::Invalid, "batch: hidden states or lens outputs asked for but no hiddenRows given");
    for (int32_t row : b.hiddenRows)
      PLAST_CHECK(row >= 0 && row < in.N, Code::Invalid,
                  "batch: hidden row " << row << " is outside [0, " << in.N << ")");
    if (b.hiddenLayers.empty())
      for (int32_t h = 0; h <= c.layers; ++h) slots.push_back(h);
    for (int32_t h : b.hiddenLayers) {
      PLAST_CHECK(h >= 0 && h <= c.layers, Code::Invalid,
                  "batch: hidden layer " << h << " is outside [0, " << c.layers
                                         << "] (0 = the embeddings, l + 1 = the output of layer l)");
      slots.push_back(h);
    }
    hiddenRows = uploadI32(be_, b.hiddenRows, {R});
    captured = be_->empty({static_cast<int64_t>(slots.size()) * R, c.hidden}, A);
  } else {
    PLAST_CHECK(b.hiddenRows.empty() && b.hiddenLayers.empty(), Code::Invalid,
                "batch: hiddenRows/hiddenLayers given without wantHidden or a lens output");
  }
  auto gatherAt = [&](int32_t h) {
    for (size_t k = 0; k < slots.size(); ++k) {
      if (slots[k] != h) continue;
      Tensor dst = captured.rows(static_cast<int64_t>(k) * R, static_cast<int64_t>(k + 1) * R);
      be_->gather(x, hiddenRows, dst);
    }
  };
  if (capture) gatherAt(0);
  for (int li = 0; li < c.layers; ++li) {
    layerForward(li, x, in, counts ? &cnt : nullptr, nullptr, b.wantGates ? &gates : nullptr);
    if (capture) gatherAt(li + 1);
  }
  ForwardResult r;
  if (capture) {
    r.hiddenLayerCount = static_cast<int64_t>(slots.size());
    if (b.wantHidden) r.hidden = downloadF32(be_, captured);
    if (lensOut) lens(b, captured, r.hiddenLayerCount, r);
  }
  if (counts) {
    r.counts.resize(static_cast<size_t>(c.layers * c.inter));
    be_->download(cnt, r.counts.data());
    r.countedTokens = in.counted;
  }
  if (b.wantGates) r.gates = downloadF32(be_, gates);
  if (!b.logitRows.empty()) {  // the LM head only where logits are asked for
    int64_t P = static_cast<int64_t>(b.logitRows.size());
    Tensor hr = be_->empty({P, c.hidden}, A), hn = be_->empty({P, c.hidden}, A);
    be_->gather(x, in.logitRows, hr);
    be_->rmsnorm(hr, norm_, c.eps, hn, nullptr);
    Tensor logits = be_->empty({P, c.vocab}, A);
    be_->linear(hn, lmHead(), nullptr, logits);
    r.logits = downloadF32(be_, logits);
  }
  return r;
}

void LlamaModel::lens(const Batch& b, const Tensor& captured, int64_t layers, ForwardResult& r) {
  const LlamaConfig& c = cfg_;
  DType A = be_->activationDType();
  const int64_t R = static_cast<int64_t>(b.hiddenRows.size()), V = c.vocab;
  PLAST_CHECK(b.lensTokens.size() % static_cast<size_t>(R) == 0, Code::Shape,
              "batch: lensTokens must hold the same number of ids for each of the " << R
                  << " hidden rows but holds " << b.lensTokens.size());
  const int64_t K = static_cast<int64_t>(b.lensTokens.size()) / R;
  for (int32_t t : b.lensTokens)
    PLAST_CHECK(t >= 0 && t < V, Code::Invalid,
                "batch: lens token " << t << " is outside the vocabulary [0, " << V << ")");
  PLAST_CHECK(b.lensTopK >= 0 && b.lensTopK <= V, Code::Invalid,
              "batch: lensTopK " << b.lensTopK << " is outside [0, " << V << "]");
  const int64_t top = b.lensTopK;
  if (b.wantLensLogits) r.lensLogits.resize(static_cast<size_t>(layers * R * V));
  r.lensProbs.resize(static_cast<size_t>(layers * R * K));
  r.lensRanks.resize(static_cast<size_t>(layers * R * K));
  r.lensTopIds.resize(static_cast<size_t>(layers * R * top));
  r.lensTopProbs.resize(static_cast<size_t>(layers * R * top));
  r.lensEntropy.resize(static_cast<size_t>(layers * R));
  // One layer at a time: the same gather -> rmsnorm -> LM head as the logits of forward(), so the
  // last layer's lens is the model's own next-token distribution.
  Tensor hn = be_->empty({R, c.hidden}, A), logits = be_->empty({R, V}, A);
  std::vector<int32_t> order(static_cast<size_t>(V));
  for (int64_t h = 0; h < layers; ++h) {
    be_->rmsnorm(captured.rows(h * R, (h + 1) * R), norm_, c.eps, hn, nullptr);
    be_->linear(hn, lmHead(), nullptr, logits);
    std::vector<float> host = downloadF32(be_, logits);
    if (b.wantLensLogits) std::copy(host.begin(), host.end(), r.lensLogits.begin() + h * R * V);
    for (int64_t i = 0; i < R; ++i) {
      const float* l = host.data() + i * V;
      const int64_t o = h * R + i;
      float mx = l[0];
      for (int64_t v = 1; v < V; ++v) mx = std::max(mx, l[v]);
      double sum = 0, dot = 0;
      for (int64_t v = 0; v < V; ++v) {
        double d = static_cast<double>(l[v]) - mx, e = std::exp(d);
        sum += e;
        dot += e * d;
      }
      r.lensEntropy[o] = static_cast<float>(std::log(sum) - dot / sum);
      for (int64_t k = 0; k < K; ++k) {
        int32_t t = b.lensTokens[i * K + k];
        int64_t above = 0;
        for (int64_t v = 0; v < V; ++v) above += l[v] > l[t];
        r.lensRanks[o * K + k] = static_cast<int32_t>(above + 1);
        r.lensProbs[o * K + k] = static_cast<float>(std::exp(static_cast<double>(l[t]) - mx) / sum);
      }
      if (top > 0) {
        for (int64_t v = 0; v < V; ++v) order[v] = static_cast<int32_t>(v);
        std::partial_sort(order.begin(), order.begin() + top, order.end(), [l](int32_t a, int32_t z) {
          return l[a] > l[z] || (l[a] == l[z] && a < z);
        });
        for (int64_t k = 0; k < top; ++k) {
          int32_t t = order[k];
          r.lensTopIds[o * top + k] = t;
          r.lensTopProbs[o * top + k] = static_cast<float>(std::exp(static_cast<double>(l[t]) - mx) / sum);
        }
      }
    }
  }
}

void LlamaModel::setTrainable(const std::vector<std::string>& names) {
  params_.clear();
  lowestTrainable_ = -1;
  for (const std::string& name : names) {
    PLAST_CHECK(name.rfind(kLlamaLayerPrefix, 0) == 0, Code::Unsupported,
                "only decoder-layer tensors can be trained, not '" << name << "'");
    params_.add(name);  // a declared name, so "model.layers.<i>.<leaf>"
    int layer = std::stoi(name.substr(std::strlen(kLlamaLayerPrefix)));
    lowestTrainable_ = lowestTrainable_ < 0 ? layer : std::min(lowestTrainable_, layer);
  }
}

TrainResult LlamaModel::forwardBackward(const Batch& b, float lossScale) {
  const LlamaConfig& c = cfg_;
  PLAST_CHECK(!params_.empty(), Code::Invalid, "no trainable tensors: call setTrainable first");
  Inputs in = upload(b, false, true);
  DType A = be_->activationDType();
  Tensor x = embedInputs(in);
  std::vector<Tensor> inputs(c.layers);
  for (int li = 0; li < c.layers; ++li) {
    if (li >= lowestTrainable_) inputs[li] = x;  // layerForward returns a fresh tensor
    layerForward(li, x, in, nullptr, nullptr);
  }
  int64_t P = static_cast<int64_t>(b.logitRows.size());
  Tensor hr = be_->empty({P, c.hidden}, A), hn = be_->empty({P, c.hidden}, A);
  Tensor rstd = be_->empty({P}, DType::F32);
  be_->gather(x, in.logitRows, hr);
  be_->rmsnorm(hr, norm_, c.eps, hn, &rstd);
  Tensor logits = be_->empty({P, c.vocab}, A), dlogits = be_->empty({P, c.vocab}, A);
  be_->linear(hn, lmHead(), nullptr, logits);
  Tensor losses = be_->empty({P}, DType::F32);
  be_->crossEntropy(logits, in.labels, lossScale, losses, &dlogits);
  logits = Tensor();
  TrainResult r;
  r.losses.resize(static_cast<size_t>(P));
  be_->download(losses, r.losses.data());
  for (int64_t p = 0; p < P; ++p) {
    if (b.labels[p] == -100) continue;
    r.lossSum += r.losses[p];
    r.labelTokens++;
  }
  Tensor dhn = be_->empty({P, c.hidden}, A);
  be_->linearBackwardInput(dlogits, lmHead(), dhn, false);
  dlogits = Tensor();
  Tensor dhr = be_->empty({P, c.hidden}, A);
  be_->rmsnormBackward(dhn, hr, norm_, rstd, dhr, false, nullptr);
  Tensor dx = be_->zeros({in.N, c.hidden}, A);
  be_->scatterAdd(dhr, in.logitRows, dx);
  x = Tensor();
  for (int li = c.layers - 1; li >= lowestTrainable_; --li) {
    Saved s;
    Tensor xi = inputs[li];
    layerForward(li, xi, in, nullptr, &s);  // recompute this layer's activations
    inputs[li] = Tensor();
    layerBackward(li, s, in, dx, li > lowestTrainable_);
  }
  return r;
}

}  // namespace plast
