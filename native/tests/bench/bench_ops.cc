// plast_bench: the CUDA benchmark (native/src/cuda/opbench.h) from the command line.
//  - kernel ops (ffn, linear, attn, attn-bwd): every kernel variant is first checked against the
//    CPU reference at a moderate shape; one that fails is reported and not timed; one that passes
//    is timed (CUDA events, median of repeats) at the benchmark shape. The defaults ("auto") are
//    also spot-checked at the full shape (sampled rows against the CPU; FFN counts against a count
//    of the gate values the kernel wrote).
//  - model workloads on random bf16 weights generated on the device: a LLaMA-7B-shaped profile
//    (16x640 tokens, all 32 layers counted) and a PLAST step (layers 0-4 trainable, 4x640 tokens,
//    fp32 masters).
// Writes a JSON summary (--json FILE) that scripts/bench_torch.py merges with PyTorch's numbers.
//
// Usage: plast_bench [--json FILE] [--quick] [--once] [--only ffn|gemm|attention|ops|model]
//                    [--op ffn|linear|attn|attn-bwd ...] [--variants all|NAME,NAME] [--no-model]
//                    [--model-layers N] [--iters N] [--seed N]
//        plast_bench --model-harness-check   (the model workloads, tiny, on the CPU: no GPU needed)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "cuda/variants.h"
#include "plast/backend.h"

using namespace plast;
using cuda::BenchRow;

namespace {

void printRow(const BenchRow& r) {
  const char* chk = r.checked ? (r.ok ? "ok" : "FAIL") : "-";
  if (r.timed)
    std::printf("  %-16s %-16s check %-4s (rel err %.2e)  %9.3f ms  %7.1f TFLOP/s  peak %8.0f MiB  %s\n",
                r.bench.c_str(), r.variant.c_str(), chk, r.err, r.ms, r.tflops, r.peakMiB, r.note.c_str());
  else
    std::printf("  %-16s %-16s check %-4s (rel err %.2e)  %9s     %7s          %8s      %s\n", r.bench.c_str(),
                r.variant.c_str(), chk, r.err, "-", "-", "-", r.note.c_str());
  std::fflush(stdout);
}

std::string jsonStr(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    o += ch;
  }
  return o;
}

void writeJson(const std::string& path, const std::string& device, const std::vector<BenchRow>& rows) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "plast_bench: cannot write %s\n", path.c_str());
    return;
  }
  std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"rows\": [\n", jsonStr(device).c_str());
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchRow& r = rows[i];
    std::fprintf(f,
                 "    {\"bench\": \"%s\", \"variant\": \"%s\", \"shape\": \"%s\", \"checked\": %s, \"ok\": %s, "
                 "\"timed\": %s, \"err\": %.4g, \"ms\": %.5f, \"tflops\": %.5g, \"peak_mib\": %.1f, "
                 "\"tok_s\": %.1f, \"note\": \"%s\"}%s\n",
                 jsonStr(r.bench).c_str(), jsonStr(r.variant).c_str(), jsonStr(r.shape).c_str(),
                 r.checked ? "true" : "false", r.ok ? "true" : "false", r.timed ? "true" : "false",
                 std::isfinite(r.err) ? r.err : 1e30, r.ms, r.tflops, r.peakMiB, r.tokensPerSec,
                 jsonStr(r.note).c_str(), i + 1 < rows.size() ? "," : "");
  }
  std::fprintf(f, "  ]\n}\n");
  std::fclose(f);
}

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--json FILE] [--quick] [--once] [--only ffn|gemm|attention|ops|model]\n"
               "          [--op ffn|linear|attn|attn-bwd ...] [--variants all|NAME,...] [--no-model]\n"
               "          [--model-layers N] [--iters N] [--seed N]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json, only;
  bool quick = false, once = false, model = true;
  std::vector<std::string> ops, variants;
  int iters = 0, modelLayers = 0;
  bool harnessCheck = false;  // the model workloads at a tiny shape on the CPU backend (no GPU needed)
  unsigned long long seed = 1234;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* a = argv[i];
    const char* v = nullptr;
    if (!std::strcmp(a, "--json") && (v = next())) json = v;
    else if (!std::strcmp(a, "--quick")) quick = true;
    else if (!std::strcmp(a, "--once")) once = true;
    else if (!std::strcmp(a, "--no-model")) model = false;
    else if (!std::strcmp(a, "--only") && (v = next())) only = v;
    else if (!std::strcmp(a, "--op") && (v = next())) ops.push_back(v);
    else if (!std::strcmp(a, "--variants") && (v = next())) variants = splitComma(v);
    else if (!std::strcmp(a, "--iters") && (v = next())) iters = std::atoi(v);
    else if (!std::strcmp(a, "--model-layers") && (v = next())) modelLayers = std::atoi(v);
    else if (!std::strcmp(a, "--seed") && (v = next())) seed = std::strtoull(v, nullptr, 10);
    else if (!std::strcmp(a, "--model-harness-check")) harnessCheck = true;
    else return usage(argv[0]);
  }
  // --only (the older spelling) picks kernel ops and/or the model workloads.
  if (!only.empty()) {
    if (only == "ffn") ops = {"ffn"};
    else if (only == "gemm" || only == "linear") ops = {"linear"};
    else if (only == "attention") ops = once ? std::vector<std::string>{"attn-bwd"} : std::vector<std::string>{"attn", "attn-bwd"};
    else if (only == "ops") ops = cuda::benchOps();
    else if (only == "model") ops.clear();
    else return usage(argv[0]);
    model = only == "model";
  } else if (ops.empty()) {
    ops = cuda::benchOps();
  } else {
    model = false;  // --op alone: just those kernel ops
  }
  if (harnessCheck) {
    cuda::ModelBenchOptions m;
    m.backend = "cpu";
    m.vocab = 512, m.hidden = 64, m.inter = 176, m.layers = 4, m.heads = 4, m.kvHeads = 2, m.headDim = 16;
    m.profileBatch = 3, m.stepBatch = 2, m.seqLen = 40, m.trainLayers = {1, 2}, m.iters = 2;
    m.seed = seed;
    m.onRow = printRow;
    int bad = 0;
    try {
      std::vector<BenchRow> rows = cuda::runModelBench(m);
      for (const BenchRow& r : rows) bad += !(r.checked && r.ok && r.timed && r.tflops > 0);
      if (!json.empty()) writeJson(json, "cpu (model harness check, tiny shape)", rows);
    } catch (const std::exception& e) {
      std::printf("plast_bench: error: %s\n", e.what());
      return 1;
    }
    std::printf("plast_bench: model harness on the CPU backend: %s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
  }
  for (const BackendInfo& b : listBackends())
    if (b.name == "cuda" && !b.available) {
      std::printf("plast_bench: skipped: %s\n", b.reason.c_str());
      return 0;
    }
  std::vector<BenchRow> rows;
  std::string device;
  int failed = 0;
  // Rows are kept as they arrive, so an error part-way still leaves the earlier ones in the JSON.
  auto keep = [&rows](const BenchRow& r) {
    printRow(r);
    rows.push_back(r);
  };
  try {
    Backend* gpu = getBackend("cuda");
    device = gpu->deviceDescription();
    std::printf("plast_bench on %s%s\n", device.c_str(), quick ? " (quick shapes)" : "");
    std::printf("kernel variants:\n");
    for (auto& k : cuda::kernelVariants())
      std::printf("  %-20s %-16s %-30s %-7s %s\n", k.op.c_str(), k.name.c_str(), k.dtypes.c_str(), k.archs.c_str(),
                  k.note.c_str());
    for (const std::string& op : ops) {
      cuda::OpBenchOptions o;
      o.op = op;
      o.variants = variants;
      o.quick = quick;
      o.once = once;
      o.iters = iters;
      o.seed = seed;
      o.onRow = keep;
      std::printf("== %s (kernel op %s)\n", op.c_str(), cuda::kernelOpFor(op).c_str());
      std::fflush(stdout);
      cuda::runOpBench(o);
    }
    if (model && !once) {
      cuda::ModelBenchOptions m;
      if (quick) m.layers = 8;
      if (modelLayers > 0) m.layers = modelLayers;
      m.seed = seed;
      m.onRow = keep;
      std::printf("== model workloads (LLaMA-7B shape, %lld layers, random bf16 weights made on the device)\n",
                  static_cast<long long>(m.layers));
      std::fflush(stdout);
      cuda::runModelBench(m);
    }
  } catch (const std::exception& e) {
    std::printf("plast_bench: error: %s\n", e.what());
    failed = 1;
  }
  for (const BenchRow& r : rows) failed += r.checked && !r.ok;
  if (!json.empty() && !device.empty()) writeJson(json, device, rows);
  std::printf("plast_bench: %zu rows, %d failed checks\n", rows.size(), failed);
  return failed ? 1 : 0;
}
