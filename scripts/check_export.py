#!/usr/bin/env python3
"""Checks a `plast train` export against HF transformers (torch, CPU, float32).

  python3 scripts/check_export.py --export OUT/model --base assets/mini-ml [--delta OUT/delta.safetensors]
                                  [--tol 1e-5] [--json FILE] [--node PATH]

1. Logits: the engine's own loader on the export (scripts/dump_logits.js, run with node; needs
   `npm run build`) against AutoModelForCausalLM on the export, both float32 on the same token ids.
   Per prompt, the relative error ||ours - hf|| / ||hf|| must be <= --tol (default 1e-5, the fp32
   tolerance of DESIGN.md); the largest |ours - hf| over all logits is reported too.
2. Not trivial: at least one tensor of the export must differ from the base checkpoint, and HF's
   logits on the export must move away from HF's on the base by more than 10 x --tol (else the
   comparison in 1 could not tell the export from the base).
3. Tensors, bytes as stored: the ones that differ from the base must all be in delta.safetensors;
   every delta tensor must equal the export's byte for byte and lie in a layer listed in the
   delta's metadata `layers`; every other tensor must be bit-identical to the base. Same shard
   files, same index json, same config.json.
Prints a line per check and OK / FAILED; exit status 0 when every check passes. --json writes the
numbers (for the test in test/model/check-export.test.ts).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def raw(f, name):
    """A tensor's stored bits (so bf16/f16/f32 compare bit for bit, NaN included)."""
    t = f.get_tensor(name)
    return t.view(torch.int16) if t.dtype in (torch.bfloat16, torch.float16) else t.view(torch.int32) if t.dtype == torch.float32 else t


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def shard_files(d):
    idx = os.path.join(d, 'model.safetensors.index.json')
    if os.path.exists(idx):
        with open(idx) as f:
            return sorted(set(json.load(f)['weight_map'].values()))
    return sorted(f for f in os.listdir(d) if f.endswith('.safetensors'))


def hf_logits(model_dir, ids_list):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation='eager').eval()
    out = []
    with torch.no_grad():
        for ids in ids_list:
            out.append(model(input_ids=torch.tensor([ids])).logits[0].float())
    return out


def layer_of(name):
    m = re.search(r'(?:^|\.)layers\.(\d+)\.', name)
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--export', required=True)
    ap.add_argument('--base', required=True)
    ap.add_argument('--delta', help='default: <export>/../delta.safetensors')
    ap.add_argument('--tol', type=float, default=1e-5, help='largest relative logit error per prompt (default 1e-5)')
    ap.add_argument('--json', help='write the numbers here')
    ap.add_argument('--node', default=os.environ.get('PLAST_NODE', 'node'), help='node binary for dump_logits.js')
    a = ap.parse_args()
    delta_path = a.delta or os.path.join(os.path.dirname(os.path.abspath(a.export)), 'delta.safetensors')
    failures = []

    def check(good, what):
        if not good:
            failures.append(what)
        return good

    # 1. logits: ours (node, our loader) vs HF, both on the export
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, 'ours.safetensors')
        subprocess.run([a.node, os.path.join(ROOT, 'scripts', 'dump_logits.js'), '--model', a.export, '--out', dump], check=True)
        ours, ids_list = [], []
        with safe_open(dump, 'pt') as f:
            n = len([k for k in f.keys() if k.startswith('ids.')])
            for i in range(n):
                ids_list.append(f.get_tensor(f'ids.{i}').tolist())
                ours.append(f.get_tensor(f'logits.{i}').float())
    hf = hf_logits(a.export, ids_list)
    base = hf_logits(a.base, ids_list)
    prompts = []
    for i, (o, h, b) in enumerate(zip(ours, hf, base)):
        err = ((o - h).norm() / h.norm()).item()
        max_abs = (o - h).abs().max().item()
        moved = ((h - b).norm() / b.norm()).item()
        good = check(err <= a.tol, f'prompt {i}: relative logit error {err:.2e} > {a.tol:.0e}')
        prompts.append({'tokens': len(ids_list[i]), 'rel_err': err, 'max_abs_diff': max_abs, 'moved_from_base': moved})
        print(f'prompt {i}: {len(ids_list[i])} tokens; ours vs HF on the export: rel err {err:.2e}, '
              f'max |diff| {max_abs:.2e} {"ok" if good else "FAIL"}; HF export vs HF base: rel diff {moved:.2e}')
    max_abs = max(p['max_abs_diff'] for p in prompts)
    max_err = max(p['rel_err'] for p in prompts)
    moved = max(p['moved_from_base'] for p in prompts)
    print(f'logits: max rel err {max_err:.2e} (tol {a.tol:.0e}), max |ours - HF| {max_abs:.3e} over '
          f'{sum(p["tokens"] for p in prompts)} positions x {ours[0].shape[-1]} logits')

    # 3. tensors: untouched bit-identical, changed ones in the delta, delta == export
    for name in ('config.json', 'model.safetensors.index.json'):
        p, q = os.path.join(a.base, name), os.path.join(a.export, name)
        if os.path.exists(p):
            same = os.path.exists(q) and read_bytes(p) == read_bytes(q)
            check(same, f'{name} differs from the base')
            print(f'{name}: {"identical" if same else "DIFFERS"}')
    check(shard_files(a.base) == shard_files(a.export), f'shard files differ: {shard_files(a.base)} vs {shard_files(a.export)}')
    with safe_open(delta_path, 'pt') as d:
        delta = {k: raw(d, k) for k in d.keys()}
        meta = d.metadata() or {}
    layers = {int(x) for x in meta.get('layers', '').split(',') if x.strip() != ''}
    changed, same, missing, in_export = [], 0, [], set()
    for shard in shard_files(a.base):
        with safe_open(os.path.join(a.base, shard), 'pt') as fb, safe_open(os.path.join(a.export, shard), 'pt') as fe:
            ek = set(fe.keys())
            for k in fb.keys():
                if k not in ek:
                    missing.append(k)
                    continue
                tb, te = raw(fb, k), raw(fe, k)
                if k in delta:
                    in_export.add(k)
                    check(torch.equal(delta[k], te), f'{k}: the delta and the export differ')
                if fb.get_slice(k).get_dtype() != fe.get_slice(k).get_dtype() or tb.shape != te.shape:
                    check(False, f'{k}: dtype/shape changed')
                elif torch.equal(tb, te):
                    same += 1
                else:
                    changed.append(k)
                    check(k in delta, f'{k}: changed but not in the delta (a tensor outside the tuned set moved)')
    check(not missing, f'missing from the export: {missing[:5]}')
    check(in_export == set(delta), f'delta tensors not in the export: {sorted(set(delta) - in_export)[:5]}')
    if layers:
        stray = [k for k in delta if layer_of(k) not in layers]
        check(not stray, f'delta tensors outside the layers {sorted(layers)} of its metadata: {stray[:5]}')
    unchanged_delta = sorted(set(delta) - set(changed))
    print(f'tensors: {same} bit-identical to the base, {len(changed)} changed (all in the delta of {len(delta)} tensors, '
          f'layers {sorted(layers) if layers else "?"}); delta tensors equal to the base: {len(unchanged_delta)}; missing: {len(missing)}')

    # 2. not trivial
    check(len(changed) > 0, 'no tensor of the export differs from the base: nothing was checked')
    check(moved > 10 * a.tol, f'HF logits of the export moved only {moved:.2e} from the base (<= 10 x tol): '
                              'the comparison could not tell the export from the base')

    for f in failures:
        print(f'FAIL: {f}')
    print('OK' if not failures else 'FAILED')
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'ok': not failures, 'failures': failures, 'tol': a.tol, 'max_rel_err': max_err, 'max_abs_diff': max_abs,
                       'moved_from_base': moved, 'prompts': prompts, 'tensors_same': same, 'tensors_changed': len(changed),
                       'delta_tensors': len(delta), 'delta_unchanged': len(unchanged_delta), 'layers': sorted(layers)}, f, indent=2)
    return 0 if not failures else 1


if __name__ == '__main__':
    sys.exit(main())
