#!/usr/bin/env python3
"""PyTorch side of the GPU benchmark (scripts/bench-gpu.sh), on the same device in the same run.

Measures, in bf16: the cuBLAS GEMM peak (8192^3 matmul), the SwiGLU FFN with gate counting
(F.silu(x@Wg.T) * (x@Wu.T) @ Wd.T plus (g > 0).sum(0)), and causal attention through
F.scaled_dot_product_attention (is_causal=True), forward and forward+backward. With --ours it reads
plast_bench's JSON and prints the comparison table (ratios, TFLOP/s, % of the cuBLAS peak, peak
memory, targets).
"""
import argparse
import json
import sys

import torch
import torch.nn.functional as F

TARGETS = {  # bench -> (kind, threshold): "le" ours/torch time <= t; "ge" torch/ours time >= t
    "ffn+count": ("le", 0.8),
    "attn fwd": ("ge", 1.3),
    "attn fwd+bwd": ("ge", 1.2),
}
DEFAULT_VARIANT = {"ffn+count": "auto", "attn fwd": "auto", "attn fwd+bwd": "auto"}


def time_ms(fn, warmup=3, iters=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for s, e in zip(starts, ends):
        s.record()
        fn()
        e.record()
    torch.cuda.synchronize()
    ms = sorted(s.elapsed_time(e) for s, e in zip(starts, ends))
    return ms[len(ms) // 2]


def peak_mib(setup_and_run):
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    keep = setup_and_run()
    torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    return peak, keep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", help="plast_bench --json output to compare with")
    ap.add_argument("--json", help="write PyTorch's numbers here")
    ap.add_argument("--quick", action="store_true", help="smaller shapes (as plast_bench --quick)")
    args = ap.parse_args()
    dev = torch.device("cuda")
    bf = torch.bfloat16
    torch.manual_seed(0)
    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": {}}
    print(f"torch {torch.__version__} on {res['device']}", flush=True)
    print("sdpa backends enabled: flash=%s mem_efficient=%s cudnn=%s math=%s" % (
        torch.backends.cuda.flash_sdp_enabled(), torch.backends.cuda.mem_efficient_sdp_enabled(),
        getattr(torch.backends.cuda, "cudnn_sdp_enabled", lambda: "?")(), torch.backends.cuda.math_sdp_enabled()),
        flush=True)

    # cuBLAS bf16 GEMM peak
    a = torch.randn(8192, 8192, device=dev, dtype=bf)
    b = torch.randn(8192, 8192, device=dev, dtype=bf)
    ms = time_ms(lambda: a @ b, 5, 30)
    res["cublas_peak_tflops"] = 2 * 8192**3 / (ms * 1e-3) / 1e12
    print(f"cuBLAS bf16 8192^3: {ms:.3f} ms = {res['cublas_peak_tflops']:.1f} TFLOP/s", flush=True)
    del a, b

    # FFN + count
    N, K, I = (2048 if args.quick else 8192), 4096, 11008

    def ffn_setup():
        x = torch.randn(N, K, device=dev, dtype=bf)
        wg = torch.randn(I, K, device=dev, dtype=bf) * 0.02
        wu = torch.randn(I, K, device=dev, dtype=bf) * 0.02
        wd = torch.randn(K, I, device=dev, dtype=bf) * 0.02

        def ffn():
            g = x @ wg.T
            u = x @ wu.T
            y = (F.silu(g) * u) @ wd.T
            c = (g > 0).sum(0)
            return y, c

        ffn()
        return ffn

    peak, ffn = peak_mib(ffn_setup)
    ms = time_ms(ffn)
    res["rows"]["ffn+count"] = {"ms": ms, "tflops": 6 * N * K * I / (ms * 1e-3) / 1e12, "peak_mib": peak,
                                "shape": f"{N}x{K}x{I}"}
    print(f"ffn+count {N}x{K}x{I}: {ms:.3f} ms, peak {peak:.0f} MiB", flush=True)
    del ffn

    # causal attention
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
        peak, fn = peak_mib(lambda: attn_setup(backward))
        ms = time_ms(fn, 3, 30)
        res["rows"][name] = {"ms": ms, "tflops": mult * fwd_flops / (ms * 1e-3) / 1e12, "peak_mib": peak,
                             "shape": f"{B}x{H}x{T}x{D}"}
        print(f"{name} {B}x{H}x{T}x{D}: {ms:.3f} ms, peak {peak:.0f} MiB", flush=True)
        del fn

    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    if args.ours:
        table(res, args.ours)


def table(torch_res, ours_path):
    with open(ours_path) as f:
        ours = json.load(f)
    peak = torch_res["cublas_peak_tflops"]
    print()
    print(f"device: {ours['device']} | torch {torch_res['torch']} | cuBLAS bf16 peak {peak:.0f} TFLOP/s (this run)")
    print("all plast variants (checked against the CPU reference before timing):")
    for r in ours["rows"]:
        chk = ("ok" if r["ok"] else "FAIL") if r["checked"] else "-"
        pct = 100 * r["tflops"] / peak if r["tflops"] else 0
        print(f"  {r['bench']:<16} {r['variant']:<16} check {chk:<4} err {r['err']:.1e}  {r['ms']:9.3f} ms"
              f"  {r['tflops']:6.1f} TFLOP/s ({pct:4.1f}% peak)  {r['note']}")
    print()
    hdr = (f"{'benchmark':<14} {'shape':<16} {'plast ms':>9} {'torch ms':>9} {'plast/torch':>11} {'speedup':>8}"
           f" {'plast TF/s (%pk)':>17} {'torch TF/s (%pk)':>17} {'plast MiB':>9} {'torch MiB':>9}  target")
    print(hdr)
    print("-" * len(hdr))
    for bench, (kind, thr) in TARGETS.items():
        t = torch_res["rows"].get(bench)
        mine = [r for r in ours["rows"] if r["bench"] == bench and r["variant"] == DEFAULT_VARIANT[bench]]
        if not t or not mine:
            continue
        m = mine[0]
        ratio = m["ms"] / t["ms"]
        speed = t["ms"] / m["ms"]
        met = ratio <= thr if kind == "le" else speed >= thr
        tgt = f"{'plast/torch <=' if kind == 'le' else 'speedup >='} {thr}: {'MET' if met else 'NOT MET'}"
        if m["checked"] and not m["ok"]:
            tgt += " (CHECK FAILED)"
        print(f"{bench:<14} {t['shape']:<16} {m['ms']:9.3f} {t['ms']:9.3f} {ratio:11.2f} {speed:8.2f}"
              f" {m['tflops']:8.1f} ({100 * m['tflops'] / peak:4.1f}%) {t['tflops']:8.1f} ({100 * t['tflops'] / peak:4.1f}%)"
              f" {m['peak_mib']:9.0f} {t['peak_mib']:9.0f}  {tgt}")


if __name__ == "__main__":
    sys.exit(main())
