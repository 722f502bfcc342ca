#!/usr/bin/env python3
"""PyTorch side of the GPU benchmark (scripts/bench-gpu.sh), on the same device in the same run.

Kernel level, bf16: the cuBLAS GEMM peak (8192^3 matmul: the "% of peak" yardstick), one linear
(x @ W.T, 8192x4096 -> 11008), the SwiGLU FFN with gate counting (F.silu(x@Wg.T) * (x@Wu.T) @ Wd.T
plus (g > 0).sum(0)), causal attention through F.scaled_dot_product_attention (is_causal=True),
forward and forward+backward.

Model level, HF transformers LlamaForCausalLM built from a LLaMA-7B-shaped LlamaConfig, random init
(normal(0, 0.02), RMSNorm weights 1) in bf16 directly on the GPU, SDPA attention:
  profile  16x640 random tokens through model.model (no LM head) under no_grad, every layer's
           mlp.gate_proj hooked to count (out > 0) per neuron over the counted tokens;
  step     4x640 tokens, requires_grad only on layers 0-4, loss (HF's, labels -100 except the last
           40% of each row), backward, then AdamW (torch.optim.AdamW, fused) on fp32 master copies of
           those layers' tensors, the masters copied back into the bf16 weights: the engine's
           mixed-precision recipe, mirrored.
Times are medians of wall-clock iterations with the GPU synchronised (as plast_bench times the
model workloads); peak memory is torch.cuda.max_memory_allocated (weights included for the model
workloads). TFLOP/s use the same FLOP counts as plast_bench (native/src/bench/model.cc).

With --ours (plast_bench --json) it prints every plast variant and then one comparison table:
workload, plast ms, torch ms, speedup (torch ms / plast ms: > 1 means plast is faster), TFLOP/s and
% of the GEMM peak measured in this run for both, peak memory of both, and DESIGN.md's target with
MET / NOT MET. --table FILE also writes that table; --summary FILE writes it as JSON.

--device cpu --tiny runs everything at toy sizes on the CPU: a smoke test of this script alone.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# DESIGN.md "Performance targets". kind: "speedup" = torch ms / plast ms >= t; "time" = plast ms /
# torch ms <= t; "memory" = plast peak / torch peak <= t.
TARGETS = {
    "profile": [("speedup", 1.5)],
    "step": [("speedup", 1.8), ("memory", 0.6)],
    "ffn+count": [("time", 0.8)],
    "attn fwd": [("speedup", 1.3)],
    "attn fwd+bwd": [("speedup", 1.2)],
    "linear": [],
}
ORDER = ["profile", "step", "ffn+count", "attn fwd", "attn fwd+bwd", "linear"]
DESIGN_REF = {  # what DESIGN.md measured with torch 2.11 + transformers 5.17 on an H100, for context
    "profile": "31.3k tok/s", "step": "12.4k tok/s, 35.9 GiB", "ffn+count": "3.84 ms",
    "attn fwd": "0.320 ms", "attn fwd+bwd": "1.50 ms",
}


class Dev:
    def __init__(self, name):
        self.name = name
        self.dev = torch.device(name)
        self.cuda = self.dev.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def reset_peak(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def allocated(self):
        return torch.cuda.memory_allocated() if self.cuda else 0

    def peak(self):
        return torch.cuda.max_memory_allocated() if self.cuda else 0

    def describe(self):
        return torch.cuda.get_device_name() if self.cuda else "cpu"


def time_ms(d, fn, warmup=3, iters=20):
    """Median milliseconds: CUDA events on a GPU, perf_counter on the CPU."""
    for _ in range(warmup):
        fn()
    d.sync()
    if not d.cuda:
        ms = []
        for _ in range(iters):
            t = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t) * 1e3)
        return statistics.median(ms)
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for s, e in zip(starts, ends):
        s.record()
        fn()
        e.record()
    torch.cuda.synchronize()
    ms = sorted(s.elapsed_time(e) for s, e in zip(starts, ends))
    return ms[len(ms) // 2]


def wall_ms(d, fn, warmup=1, iters=5):
    """Median wall-clock milliseconds of fn with the device synchronised after each call."""
    for _ in range(warmup):
        fn()
    d.sync()
    ms = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        d.sync()
        ms.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ms)


def peak_mib(d, setup_and_run):
    d.reset_peak()
    base = d.allocated()
    keep = setup_and_run()
    d.sync()
    return (d.peak() - base) / 2**20, keep


# ------------------------------------------------------------------ kernel level

def kernel_benches(d, args, res):
    bf = torch.bfloat16
    dev = d.dev
    g = 8192 if not args.tiny else 256
    a = torch.randn(g, g, device=dev, dtype=bf)
    b = torch.randn(g, g, device=dev, dtype=bf)
    ms = time_ms(d, lambda: a @ b, 5, 30)
    res["cublas_peak_tflops"] = 2 * g**3 / (ms * 1e-3) / 1e12
    res["gemm_peak_shape"] = f"{g}^3"
    print(f"GEMM peak (torch bf16 matmul {g}^3): {ms:.3f} ms = {res['cublas_peak_tflops']:.1f} TFLOP/s", flush=True)
    del a, b

    if args.tiny:
        N, K, I = 64, 128, 352
    else:
        N, K, I = (2048 if args.quick else 8192), 4096, 11008

    # linear
    def lin_setup():
        x = torch.randn(N, K, device=dev, dtype=bf)
        w = torch.randn(I, K, device=dev, dtype=bf) * 0.02
        fn = lambda: x @ w.T  # noqa: E731
        fn()
        return fn

    peak, fn = peak_mib(d, lin_setup)
    ms = time_ms(d, fn, 3, 15)
    res["rows"]["linear"] = {"ms": ms, "tflops": 2 * N * K * I / (ms * 1e-3) / 1e12, "peak_mib": peak,
                             "shape": f"{N}x{K}x{I}"}
    print(f"linear {N}x{K}x{I}: {ms:.3f} ms", flush=True)
    del fn

    # FFN + count
    def ffn_setup():
        x = torch.randn(N, K, device=dev, dtype=bf)
        wg = torch.randn(I, K, device=dev, dtype=bf) * 0.02
        wu = torch.randn(I, K, device=dev, dtype=bf) * 0.02
        wd = torch.randn(K, I, device=dev, dtype=bf) * 0.02

        def ffn():
            g_ = x @ wg.T
            u = x @ wu.T
            y = (F.silu(g_) * u) @ wd.T
            c = (g_ > 0).sum(0)
            return y, c

        ffn()
        return ffn

    peak, ffn = peak_mib(d, ffn_setup)
    ms = time_ms(d, ffn)
    res["rows"]["ffn+count"] = {"ms": ms, "tflops": 6 * N * K * I / (ms * 1e-3) / 1e12, "peak_mib": peak,
                                "shape": f"{N}x{K}x{I}"}
    print(f"ffn+count {N}x{K}x{I}: {ms:.3f} ms, peak {peak:.0f} MiB", flush=True)
    del ffn

    # causal attention
    if args.tiny:
        B, H, T, D = 1, 2, 128, 64
    else:
        B, H, T, D = (1 if args.quick else 4), 32, 2048, 128
    fwd_flops = 4 * B * H * T * T * D / 2

    def attn_setup(backward):
        q = torch.randn(B, H, T, D, device=dev, dtype=bf, requires_grad=backward)
        k = torch.randn(B, H, T, D, device=dev, dtype=bf, requires_grad=backward)
        v = torch.randn(B, H, T, D, device=dev, dtype=bf, requires_grad=backward)
        do = torch.randn(B, H, T, D, device=dev, dtype=bf)

        def fwd():
            with torch.no_grad():
                return F.scaled_dot_product_attention(q, k, v, is_causal=True)

        def fwdbwd():
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return torch.autograd.grad(o, (q, k, v), do)

        fn = fwdbwd if backward else fwd
        fn()
        return fn

    for name, backward, mult in (("attn fwd", False, 1.0), ("attn fwd+bwd", True, 3.5)):
        peak, fn = peak_mib(d, lambda: attn_setup(backward))
        ms = time_ms(d, fn, 3, 30)
        res["rows"][name] = {"ms": ms, "tflops": mult * fwd_flops / (ms * 1e-3) / 1e12, "peak_mib": peak,
                             "shape": f"{B}x{H}x{T}x{D}"}
        print(f"{name} {B}x{H}x{T}x{D}: {ms:.3f} ms, peak {peak:.0f} MiB", flush=True)
        del fn


# ------------------------------------------------------------------ model level

class Shape:
    """The model-level workload shapes; defaults are plast_bench's (ModelBenchOptions)."""

    def __init__(self, args):
        if args.tiny:  # plast_bench --model-harness-check's shape
            self.vocab, self.hidden, self.inter, self.layers = 512, 64, 176, 4
            self.heads, self.kv, self.head_dim = 4, 2, 16
            self.profile_batch, self.step_batch, self.seq = 3, 2, 40
            self.train_layers = [1, 2]
        else:
            self.vocab, self.hidden, self.inter = 32000, 4096, 11008
            self.layers = args.model_layers or (8 if args.quick else 32)
            self.heads, self.kv, self.head_dim = 32, 32, 128
            self.profile_batch, self.step_batch, self.seq = 16, 4, 640
            self.train_layers = [0, 1, 2, 3, 4]
        self.target_fraction = 0.4

    def lin_per_token(self):
        q, kv = self.heads * self.head_dim, self.kv * self.head_dim
        return 2.0 * self.hidden * (q + 2 * kv) + 2.0 * q * self.hidden + 2.0 * 3 * self.hidden * self.inter

    def attn_per_seq(self, T):
        return 2.0 * T * T * self.heads * self.head_dim

    def profile_flops(self, B, T):
        return self.layers * (B * T * self.lin_per_token() + B * self.attn_per_seq(T))

    def step_flops(self, B, T, P):
        lowest = min(self.train_layers)
        lin, attn = B * T * self.lin_per_token(), B * self.attn_per_seq(T)
        head = 2.0 * P * self.hidden * self.vocab
        return (self.layers * (lin + attn) + head) + ((self.layers - lowest) * (lin + 2 * attn) + head) \
            + len(self.train_layers) * lin


def model_benches(d, args, res):
    from transformers import LlamaConfig, LlamaForCausalLM
    import transformers

    s = Shape(args)
    cfg = LlamaConfig(vocab_size=s.vocab, hidden_size=s.hidden, intermediate_size=s.inter,
                      num_hidden_layers=s.layers, num_attention_heads=s.heads, num_key_value_heads=s.kv,
                      max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False, use_cache=False)
    cfg._attn_implementation = "sdpa"
    d.reset_peak()
    t0 = time.perf_counter()
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(d.dev):
            model = LlamaForCausalLM(cfg)  # HF init: normal(0, 0.02), RMSNorm weights 1
    finally:
        torch.set_default_dtype(prev)
    model.eval()
    d.sync()
    init_s = time.perf_counter() - t0
    nparams = sum(p.numel() for p in model.parameters())
    print(f"transformers {transformers.__version__}: LlamaForCausalLM {s.layers} layers, {nparams / 1e9:.2f}B params, "
          f"bf16 random init on {d.name} in {init_s:.1f} s, attention {model.config._attn_implementation}", flush=True)
    gen = torch.Generator(device="cpu").manual_seed(1234)
    layers = model.model.layers

    # profile: hooks on gate_proj count (out > 0) over the counted tokens
    B, T = s.profile_batch, s.seq
    ids = torch.randint(3, s.vocab, (B, T), generator=gen).to(d.dev)
    am = torch.ones(B, T, dtype=torch.long, device=d.dev)
    count_mask = torch.ones(B, T, dtype=torch.bool, device=d.dev)
    counts = torch.zeros(s.layers, s.inter, dtype=torch.int64, device=d.dev)
    hooks = []
    for i, layer in enumerate(layers):
        def hook(mod, inp, out, i=i):
            counts[i] += ((out > 0) & count_mask[..., None]).sum(dim=(0, 1))
        hooks.append(layer.mlp.gate_proj.register_forward_hook(hook))

    def profile():
        with torch.no_grad():
            model.model(input_ids=ids, attention_mask=am, use_cache=False)  # no KV cache: the engine keeps none

    d.reset_peak()
    ms = wall_ms(d, profile, 1, args.model_iters)
    for h in hooks:
        h.remove()
    frac = counts.sum().item() / counts.numel() / (B * T) / (1 + args.model_iters)
    res["rows"]["profile"] = {"ms": ms, "tok_s": B * T / (ms * 1e-3), "tflops": s.profile_flops(B, T) / (ms * 1e-3) / 1e12,
                              "peak_mib": d.peak() / 2**20, "shape": f"{B}x{T} tokens, {s.layers} layers counted",
                              "note": f"positive-gate fraction {frac:.3f}"}
    print(f"profile {B}x{T}: {ms:.1f} ms = {B * T / (ms * 1e-3):.0f} tok/s, peak {d.peak() / 2**20:.0f} MiB, "
          f"positive-gate fraction {frac:.3f}", flush=True)

    # step: layers 0-4 trainable, fp32 masters + AdamW, loss on the last 40% of each row
    B, T = s.step_batch, s.seq
    tgt = max(1, min(T - 1, round(s.target_fraction * T)))
    ids = torch.randint(3, s.vocab, (B, T), generator=gen).to(d.dev)
    am = torch.ones(B, T, dtype=torch.long, device=d.dev)
    labels = torch.full((B, T), -100, dtype=torch.long, device=d.dev)
    labels[:, T - tgt:] = ids[:, T - tgt:]  # HF shifts: position t-1 predicts labels[t]
    P = B * tgt
    for p in model.parameters():
        p.requires_grad_(False)
    train = [p for n, p in model.named_parameters()
             if n.startswith("model.layers.") and int(n.split(".")[2]) in s.train_layers]
    for p in train:
        p.requires_grad_(True)
    d.reset_peak()
    masters = [p.detach().float().clone() for p in train]
    opt = torch.optim.AdamW(masters, lr=2e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, fused=d.cuda)
    model.train()
    last = {}

    def step():
        out = model(input_ids=ids, attention_mask=am, labels=labels, use_cache=False)
        out.loss.backward()
        for p, m in zip(train, masters):
            m.grad = p.grad.float()
            p.grad = None
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            torch._foreach_copy_(train, masters)
        last["loss"] = out.loss.detach()

    ms = wall_ms(d, step, 1, args.model_iters)
    loss = last["loss"].float().item()
    res["rows"]["step"] = {"ms": ms, "tok_s": B * T / (ms * 1e-3), "tflops": s.step_flops(B, T, P) / (ms * 1e-3) / 1e12,
                           "peak_mib": d.peak() / 2**20,
                           "shape": f"{B}x{T} tokens, layers {min(s.train_layers)}-{max(s.train_layers)} trainable, fp32 masters",
                           "note": f"loss {loss:.3f} (ln vocab {math.log(s.vocab):.3f})"}
    print(f"step {B}x{T}: {ms:.1f} ms = {B * T / (ms * 1e-3):.0f} tok/s, peak {d.peak() / 2**20:.0f} MiB, loss {loss:.3f}",
          flush=True)
    del model, masters, opt, train
    d.reset_peak()


# ------------------------------------------------------------------ comparison

def comparison(torch_res, ours):
    """Rows of the final table: one per workload measured on both sides (plast's default variant)."""
    peak = torch_res["cublas_peak_tflops"]
    out = []
    for bench in ORDER:
        t = torch_res["rows"].get(bench)
        mine = [r for r in ours["rows"] if r["bench"] == bench and r["variant"] == "auto"]
        if not t or not mine:
            continue
        m = mine[0]
        row = {"workload": bench, "shape": m.get("shape") or t["shape"], "torch_shape": t["shape"],
               "plast_ms": m["ms"] if m.get("timed", True) else None, "torch_ms": t["ms"],
               "plast_tflops": m["tflops"], "torch_tflops": t["tflops"],
               "plast_pct_peak": 100 * m["tflops"] / peak, "torch_pct_peak": 100 * t["tflops"] / peak,
               "plast_peak_mib": m["peak_mib"], "torch_peak_mib": t["peak_mib"],
               "plast_tok_s": m.get("tok_s"), "torch_tok_s": t.get("tok_s"),
               "checked_ok": (not m["checked"]) or m["ok"], "targets": [], "met": None}
        if row["plast_ms"]:
            row["speedup"] = t["ms"] / m["ms"]
            row["time_ratio"] = m["ms"] / t["ms"]
        row["mem_ratio"] = m["peak_mib"] / t["peak_mib"] if t["peak_mib"] and m["peak_mib"] else None
        mets = []
        for kind, thr in TARGETS.get(bench, []):
            if kind == "speedup":
                val = row.get("speedup")
                ok = val is not None and val >= thr
                txt = f"speedup >= {thr}"
            elif kind == "time":
                val = row.get("time_ratio")
                ok = val is not None and val <= thr
                txt = f"plast/torch time <= {thr}"
            else:
                val = row["mem_ratio"]
                ok = val is not None and val <= thr
                txt = f"plast/torch memory <= {thr}"
            row["targets"].append({"target": txt, "value": val, "met": ok})
            mets.append(ok)
        if not row["checked_ok"]:
            mets.append(False)
        row["met"] = all(mets) if mets else None
        out.append(row)
    return out


def fmt_table(torch_res, ours, rows):
    peak = torch_res["cublas_peak_tflops"]
    lines = [f"device: {ours['device']} | torch {torch_res['torch']} | GEMM peak {peak:.0f} TFLOP/s "
             f"(torch bf16 matmul {torch_res.get('gemm_peak_shape', '8192^3')}, this run; DESIGN.md: 758)",
             "speedup = torch ms / plast ms (> 1: plast faster); mem = plast peak / torch peak; "
             "% = TFLOP/s as a share of that GEMM peak"]
    hdr = (f"{'workload':<13} {'plast ms':>9} {'torch ms':>9} {'speedup':>7} {'plast TF/s (%pk)':>17} "
           f"{'torch TF/s (%pk)':>17} {'plast MiB':>9} {'torch MiB':>9} {'mem':>5}  target (DESIGN.md)")
    lines += [hdr, "-" * (len(hdr) + 30)]
    for r in rows:
        sp = f"{r['speedup']:7.2f}" if r.get("speedup") else f"{'-':>7}"
        pm = f"{r['plast_ms']:9.3f}" if r["plast_ms"] else f"{'-':>9}"
        mr = f"{r['mem_ratio']:5.2f}" if r["mem_ratio"] else f"{'-':>5}"
        tg = "; ".join(f"{t['target']}: {'MET' if t['met'] else 'NOT MET'}" for t in r["targets"]) or "(no target)"
        if not r["checked_ok"]:
            tg += " [plast CHECK FAILED]"
        lines.append(f"{r['workload']:<13} {pm} {r['torch_ms']:9.3f} {sp} "
                     f"{r['plast_tflops']:8.1f} ({r['plast_pct_peak']:4.1f}%) {r['torch_tflops']:8.1f} ({r['torch_pct_peak']:4.1f}%) "
                     f"{r['plast_peak_mib']:9.0f} {r['torch_peak_mib']:9.0f} {mr}  {tg}")
    for r in rows:
        if r.get("plast_tok_s") or r.get("torch_tok_s"):
            lines.append(f"  {r['workload']}: {r['shape']}; plast {r['plast_tok_s'] or 0:.0f} tok/s, "
                         f"torch {r['torch_tok_s'] or 0:.0f} tok/s (DESIGN.md's torch: {DESIGN_REF.get(r['workload'], '-')})")
    met = sum(1 for r in rows if r["met"] is True)
    judged = sum(1 for r in rows if r["met"] is not None)
    lines.append(f"targets met: {met} of {judged}")
    return "\n".join(lines)


def print_variants(torch_res, ours):
    peak = torch_res["cublas_peak_tflops"]
    print("all plast rows (each variant checked against the CPU reference before it is timed):")
    for r in ours["rows"]:
        chk = ("ok" if r["ok"] else "FAIL") if r["checked"] else "-"
        if r.get("timed", True) and r["ms"]:
            pct = 100 * r["tflops"] / peak if r["tflops"] else 0
            t = f"{r['ms']:9.3f} ms  {r['tflops']:6.1f} TFLOP/s ({pct:4.1f}% peak)"
        else:
            t = f"{'-':>9}            {'':>20}"
        print(f"  {r['bench']:<16} {r['variant']:<16} check {chk:<4} err {r['err']:.1e}  {t}  {r['note']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", help="plast_bench --json output to compare with")
    ap.add_argument("--json", help="write PyTorch's numbers here")
    ap.add_argument("--table", help="write the final comparison table (text) here")
    ap.add_argument("--summary", help="write the final comparison table as JSON here")
    ap.add_argument("--quick", action="store_true", help="smaller shapes (as plast_bench --quick)")
    ap.add_argument("--no-model", action="store_true", help="skip the model-level workloads")
    ap.add_argument("--model-layers", type=int, default=0, help="decoder layers of the model workloads (default 32)")
    ap.add_argument("--model-iters", type=int, default=5)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="toy sizes (with --device cpu: a smoke test of this script)")
    args = ap.parse_args()
    d = Dev(args.device)
    torch.manual_seed(0)
    res = {"device": d.describe(), "torch": torch.__version__, "rows": {}}
    print(f"torch {torch.__version__} on {res['device']}", flush=True)
    if d.cuda:
        print("sdpa backends enabled: flash=%s mem_efficient=%s cudnn=%s math=%s" % (
            torch.backends.cuda.flash_sdp_enabled(), torch.backends.cuda.mem_efficient_sdp_enabled(),
            getattr(torch.backends.cuda, "cudnn_sdp_enabled", lambda: "?")(), torch.backends.cuda.math_sdp_enabled()),
            flush=True)
    rc = 0
    kernel_benches(d, args, res)
    if not args.no_model:
        try:
            model_benches(d, args, res)
        except Exception as e:  # keep the kernel-level numbers and the table
            print(f"bench_torch: model workloads failed: {type(e).__name__}: {e}", flush=True)
            res["model_error"] = f"{type(e).__name__}: {e}"
            rc = 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    if args.ours:
        with open(args.ours) as f:
            ours = json.load(f)
        print()
        print_variants(res, ours)
        rows = comparison(res, ours)
        text = fmt_table(res, ours, rows)
        print()
        print("==== comparison (same device, same run) ====")
        print(text, flush=True)
        if args.table:
            with open(args.table, "w") as f:
                f.write(text + "\n")
        if args.summary:
            with open(args.summary, "w") as f:
                json.dump({"device": ours["device"], "torch": res["torch"], "gemm_peak_tflops": res["cublas_peak_tflops"],
                           "rows": rows}, f, indent=2)
    return rc


if __name__ == "__main__":
    sys.exit(main())
