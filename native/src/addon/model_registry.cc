#include "addon/model_registry.h"

#include <sstream>

#include "addon/convert.h"
#include "model/clip.h"
#include "model/llama.h"

namespace plast {
namespace {

// The LLaMA-family decoder: the fields of NativeConfig (src/native.ts).
std::unique_ptr<Model> makeLlama(const std::string& backend, const Napi::Object& c) {
  LlamaConfig cfg;
  cfg.vocab = getInt(c, "vocab", "config");
  cfg.hidden = getInt(c, "hidden", "config");
  cfg.inter = getInt(c, "intermediate", "config");
  cfg.layers = getInt(c, "layers", "config");
  cfg.heads = getInt(c, "heads", "config");
  cfg.kvHeads = getInt(c, "kvHeads", "config");
  cfg.headDim = getInt(c, "headDim", "config");
  cfg.eps = static_cast<float>(getNumber(c, "eps", "config"));
  cfg.qkvBias = getBool(c, "qkvBias");
  cfg.oBias = getBool(c, "oBias");
  cfg.mlpBias = getBool(c, "mlpBias");
  cfg.tied = getBool(c, "tied");
  cfg.window = static_cast<int>(getNumberOr(c, "window", 0));
  cfg.invFreq = getF32(c.Get("invFreq"), "config.invFreq");
  cfg.ropeAttnScaling = static_cast<float>(getNumberOr(c, "ropeAttnScaling", 1.0));
  return std::make_unique<LlamaModel>(getBackend(backend), std::move(cfg));
}

// The vision tower and projector of a LLaVA checkpoint: the fields of NativeClipConfig
// (src/native.ts). HF's own strings for the activations and the strategy, checked here.
std::unique_ptr<Model> makeClipLlava(const std::string& backend, const Napi::Object& c) {
  ClipConfig cfg;
  cfg.hidden = getInt(c, "hidden", "config");
  cfg.inter = getInt(c, "intermediate", "config");
  cfg.layers = getInt(c, "layers", "config");
  cfg.heads = getInt(c, "heads", "config");
  cfg.imageSize = getInt(c, "imageSize", "config");
  cfg.patchSize = getInt(c, "patchSize", "config");
  cfg.channels = static_cast<int64_t>(getNumberOr(c, "channels", 3));
  cfg.eps = static_cast<float>(getNumber(c, "eps", "config"));
  cfg.act = geluKindFromHf(getString(c, "hiddenAct", "config"), "vision_config.hidden_act");
  cfg.textHidden = getInt(c, "textHidden", "config");
  cfg.featureLayer = resolveFeatureLayer(getInt(c, "featureLayer", "config"), cfg.layers);
  cfg.dropCls = dropClsFromStrategy(getString(c, "strategy", "config"));
  cfg.projectorBias = getBoolOr(c, "projectorBias", true);
  cfg.projectorAct = geluKindFromHf(getString(c, "projectorAct", "config"), "projector_hidden_act");
  return std::make_unique<ClipLlavaModel>(getBackend(backend), std::move(cfg));
}

struct Entry {
  const char* arch;
  std::unique_ptr<Model> (*make)(const std::string& backend, const Napi::Object& config);
};

// One row per model kind.
const Entry kModels[] = {
    {"llama", makeLlama},
    {"clip_llava", makeClipLlava},
};

}  // namespace

std::vector<std::string> modelArchs() {
  std::vector<std::string> out;
  for (const Entry& e : kModels) out.push_back(e.arch);
  return out;
}

std::unique_ptr<Model> createModel(const std::string& arch, const std::string& backend,
                                   const Napi::Object& config) {
  for (const Entry& e : kModels)
    if (arch == e.arch) return e.make(backend, config);
  std::ostringstream known;
  for (const Entry& e : kModels) known << (&e == kModels ? "" : ", ") << e.arch;
  PLAST_FAIL(Code::Unsupported, "unknown model architecture '" << arch << "' (this build has: " << known.str() << ")");
}

}  // namespace plast
