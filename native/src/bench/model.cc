// The model-level benchmarks: a LLaMA-7B-shaped profile forward and PLAST step on random bf16
// weights generated on the device (or, on the CPU, a tiny shape that checks the harness).
#include "bench/bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>

#include "bench/util.h"
#include "cuda/random.h"
#include "model/llama.h"
#include "plast/backend.h"
#include "plast/compare.h"
#include "plast/half.h"

namespace plast {
namespace cuda {
namespace {

using namespace bench;

double linearFlopsPerToken(const ModelBenchOptions& o) {
  double q = double(o.heads) * o.headDim, kv = double(o.kvHeads) * o.headDim;
  return 2.0 * o.hidden * (q + 2 * kv) + 2.0 * q * o.hidden + 2.0 * 3 * o.hidden * o.inter;
}

double attnFlopsPerSeq(const ModelBenchOptions& o, int64_t T) {
  return 2.0 * double(T) * T * o.heads * o.headDim;  // QK^T and PV, causal half
}

}  // namespace

double profileFlops(const ModelBenchOptions& o, int64_t B, int64_t T) {
  return double(o.layers) * (double(B) * T * linearFlopsPerToken(o) + B * attnFlopsPerSeq(o, T));
}

double stepFlops(const ModelBenchOptions& o, int64_t B, int64_t T, int64_t P) {
  int lowest = o.trainLayers.empty() ? int(o.layers) : *std::min_element(o.trainLayers.begin(), o.trainLayers.end());
  double lin = double(B) * T * linearFlopsPerToken(o), attn = double(B) * attnFlopsPerSeq(o, T);
  double head = 2.0 * P * o.hidden * o.vocab;
  double fwd = double(o.layers) * (lin + attn) + head;
  double bwdInput = double(o.layers - lowest) * (lin + 2 * attn) + head;  // dX down to the lowest layer
  double bwdWeight = double(o.trainLayers.size()) * lin;                // dW of the trainable layers only
  return fwd + bwdInput + bwdWeight;
}

std::vector<BenchRow> runModelBench(const ModelBenchOptions& o) {
  Backend* gpu = getBackend(o.backend);  // "cuda" (NoDevice without one) or "cpu" (harness check)
  const bool onDevice = gpu->name() == "cuda";
  PLAST_CHECK(o.layers > 0 && o.seqLen > 1 && o.profileBatch > 0 && o.stepBatch > 0, Code::Invalid,
              "model bench: layers, batch and sequence length must be positive");
  for (int l : o.trainLayers)
    PLAST_CHECK(l >= 0 && l < o.layers, Code::Invalid, "model bench: trainable layer " << l << " outside [0, " << o.layers << ")");
  std::vector<BenchRow> rows;
  auto emit = [&](const BenchRow& r) {
    rows.push_back(r);
    if (o.onRow) o.onRow(r);
  };
  LlamaConfig cfg;
  cfg.vocab = o.vocab;
  cfg.hidden = o.hidden;
  cfg.inter = o.inter;
  cfg.layers = o.layers;
  cfg.heads = o.heads;
  cfg.kvHeads = o.kvHeads;
  cfg.headDim = o.headDim;
  cfg.eps = static_cast<float>(o.eps);
  for (int64_t i = 0; i < o.headDim / 2; ++i)
    cfg.invFreq.push_back(static_cast<float>(1.0 / std::pow(o.ropeTheta, double(2 * i) / double(o.headDim))));
  gpu->synchronize();
  size_t base = gpu->bytesInUse();
  auto t0 = std::chrono::steady_clock::now();
  auto model = std::make_unique<LlamaModel>(gpu, cfg);
  uint64_t seed = o.seed * 7919;
  for (const std::string& name : model->expectedWeights()) {
    bool norm = name.find("norm.weight") != std::string::npos;
    Shape shape = model->expectedShape(name);
    Tensor t;
    if (onDevice) {
      t = gpu->empty(shape, DType::BF16);
      fillNormal(t, ++seed, norm ? 1.f : 0.f, norm ? 0.f : 0.02f);
    } else {
      std::mt19937_64 wr(++seed);
      int64_t n = 1;
      for (auto d : shape) n *= d;
      std::vector<float> v = norm ? std::vector<float>(static_cast<size_t>(n), 1.f) : randn(wr, static_cast<size_t>(n), 0.02f);
      t = upload(gpu, v, shape, DType::BF16);
    }
    model->setWeight(name, std::move(t));
  }
  model->finalize();
  gpu->synchronize();
  double initS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double weightsMiB = double(gpu->bytesInUse() - base) / (1 << 20);
  std::ostringstream arch;
  arch << o.layers << " layers, hidden " << o.hidden << ", inter " << o.inter << ", heads " << o.heads << "/"
       << o.kvHeads << ", vocab " << o.vocab << "; random bf16 weights (" << std::lround(weightsMiB)
       << " MiB) generated " << (onDevice ? "on the device" : "on the host") << " in " << std::lround(initS * 1000)
       << " ms";
  std::mt19937_64 rng(o.seed);
  auto makeBatch = [&](int64_t B, int64_t T) {
    Batch b;
    b.B = B;
    b.T = T;
    std::uniform_int_distribution<int32_t> tok(3, static_cast<int32_t>(o.vocab - 1));
    for (int64_t i = 0; i < B * T; ++i) {
      b.ids.push_back(tok(rng));
      b.positions.push_back(static_cast<int32_t>(i % T));
      b.keyMask.push_back(1);
    }
    return b;
  };
  auto timeS = [&](const std::function<void()>& fn) {
    for (int i = 0; i < o.warmup; ++i) fn();
    gpu->synchronize();
    std::vector<double> s;
    for (int i = 0; i < std::max(1, o.iters); ++i) {
      auto a = std::chrono::steady_clock::now();
      fn();
      gpu->synchronize();
      s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(s.begin(), s.end());
    return s[s.size() / 2];
  };
  if (o.profile) {
    const int64_t B = o.profileBatch, T = o.seqLen;
    Batch b = makeBatch(B, T);
    b.countMask.assign(static_cast<size_t>(B * T), 1);
    BenchRow r;
    r.bench = "profile";
    r.variant = "auto";
    r.shape = shapeOf({B, T}) + " tokens, all " + std::to_string(o.layers) + " layers counted";
    gpu->resetPeak();
    ForwardResult last;
    double s = timeS([&] { last = model->forward(b, true); });
    int64_t total = 0;
    for (int64_t v : last.counts) total += v;
    double frac = double(total) / (double(B) * T * o.layers * o.inter);
    r.checked = true;
    r.ok = last.countedTokens == B * T && frac > 0.05 && frac < 0.95;
    std::ostringstream os;
    os << arch.str() << "; " << std::fixed;
    os.precision(3);
    os << "positive-gate fraction " << frac << " (sanity: in (0.05, 0.95))";
    r.note = os.str();
    r.ms = s * 1e3;
    r.timed = true;
    r.tokensPerSec = double(B * T) / s;
    r.tflops = profileFlops(o, B, T) / s / 1e12;
    r.peakMiB = double(gpu->peakBytes()) / (1 << 20);
    emit(r);
  }
  if (o.step && !o.trainLayers.empty()) {
    const int64_t B = o.stepBatch, T = o.seqLen;
    const int64_t tgt = std::max<int64_t>(1, std::min<int64_t>(T - 1, std::llround(o.targetFraction * T)));
    Batch b = makeBatch(B, T);
    for (int64_t s = 0; s < B; ++s)
      for (int64_t t = T - 1 - tgt; t < T - 1; ++t) {
        b.logitRows.push_back(static_cast<int32_t>(s * T + t));
        b.labels.push_back(b.ids[s * T + t + 1]);
      }
    const int64_t P = static_cast<int64_t>(b.logitRows.size());
    gpu->resetPeak();
    std::vector<std::string> names;
    const char* leaves[] = {"input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
                            "self_attn.v_proj.weight", "self_attn.o_proj.weight", "post_attention_layernorm.weight",
                            "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"};
    for (int l : o.trainLayers)
      for (const char* leaf : leaves) names.push_back("model.layers." + std::to_string(l) + "." + leaf);
    model->setTrainable(names);
    AdamWParams ap;
    ap.lr = 2e-5;
    int64_t stepNo = 0;
    TrainResult last;
    double s = timeS([&] {
      model->zeroGrad();
      last = model->forwardBackward(b, 1.0f / float(P));
      ap.step = ++stepNo;
      model->adamwStep(ap);
    });
    double loss = last.lossSum / double(std::max<int64_t>(1, last.labelTokens));
    BenchRow r;
    r.bench = "step";
    r.variant = "auto";
    std::ostringstream sh;
    sh << B << "x" << T << " tokens, layers " << *std::min_element(o.trainLayers.begin(), o.trainLayers.end()) << "-"
       << *std::max_element(o.trainLayers.begin(), o.trainLayers.end()) << " trainable, fp32 masters";
    r.shape = sh.str();
    r.checked = true;
    r.ok = std::isfinite(loss) && loss > 0.5 * std::log(double(o.vocab)) && loss < 2 * std::log(double(o.vocab));
    std::ostringstream os;
    os << arch.str() << "; loss on the last " << tgt << " tokens of each row (" << P << " rows): " << loss
       << " (sanity: near ln(vocab) = " << std::log(double(o.vocab)) << ")";
    r.note = os.str();
    r.ms = s * 1e3;
    r.timed = true;
    r.tokensPerSec = double(B * T) / s;
    r.tflops = stepFlops(o, B, T, P) / s / 1e12;
    r.peakMiB = double(gpu->peakBytes()) / (1 << 20);
    emit(r);
  }
  model.reset();
  gpu->synchronize();
  return rows;
}

}  // namespace cuda
}  // namespace plast
