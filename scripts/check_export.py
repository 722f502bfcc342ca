#!/usr/bin/env python3
"""Checks a `plast train` export against HF transformers (torch, CPU, float32).

  python3 scripts/check_export.py --export OUT/model --base assets/mini-ml [--delta OUT/delta.safetensors]

1. Loads the export with AutoModelForCausalLM (float32) and compares its logits with the engine's
   on the same token ids (scripts/dump_logits.js, run here with node; needs `npm run build`):
   relative error ||ours - hf|| / ||hf|| per prompt must be <= 1e-4 (fp32 reference tolerance with
   headroom for the different summation order).
2. Compares every tensor of the export with the base checkpoint, bytes as stored: tensors that
   differ must be exactly the ones in delta.safetensors (and equal to them byte for byte); all
   others must be bit-identical. Also: same shard files, same index json, same config.json.
3. Reports how far the export's logits moved from the base model's (so a no-op export shows).
Exit status 0 when every check passes.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def raw(f, name):
    t = f.get_tensor(name)
    return t.view(torch.int16) if t.dtype in (torch.bfloat16, torch.float16) else t.view(torch.int32) if t.dtype == torch.float32 else t


def shard_files(d):
    idx = os.path.join(d, 'model.safetensors.index.json')
    if os.path.exists(idx):
        return sorted(set(json.load(open(idx))['weight_map'].values()))
    return sorted(f for f in os.listdir(d) if f.endswith('.safetensors'))


def hf_logits(model_dir, ids_list):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation='eager').eval()
    out = []
    with torch.no_grad():
        for ids in ids_list:
            out.append(model(input_ids=torch.tensor([ids])).logits[0])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--export', required=True)
    ap.add_argument('--base', required=True)
    ap.add_argument('--delta', help='default: <export>/../delta.safetensors')
    ap.add_argument('--tol', type=float, default=1e-4)
    a = ap.parse_args()
    delta_path = a.delta or os.path.join(os.path.dirname(os.path.abspath(a.export)), 'delta.safetensors')
    ok = True

    # 1. logits: ours (node) vs HF on the export
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, 'ours.safetensors')
        subprocess.run(['node', os.path.join(ROOT, 'scripts', 'dump_logits.js'), '--model', a.export, '--out', dump], check=True)
        ours, ids_list = [], []
        with safe_open(dump, 'pt') as f:
            n = len([k for k in f.keys() if k.startswith('ids.')])
            for i in range(n):
                ids_list.append(f.get_tensor(f'ids.{i}').tolist())
                ours.append(f.get_tensor(f'logits.{i}'))
    hf = hf_logits(a.export, ids_list)
    base = hf_logits(a.base, ids_list)
    for i, (o, h, b) in enumerate(zip(ours, hf, base)):
        err = ((o - h).norm() / h.norm()).item()
        moved = ((h - b).norm() / b.norm()).item()
        good = err <= a.tol
        ok &= good
        print(f'prompt {i}: {len(ids_list[i])} tokens, ours vs HF(export) rel err {err:.2e} '
              f'{"ok" if good else "FAIL"}; HF(export) vs HF(base) rel diff {moved:.2e}')

    # 2. tensors: untouched bit-identical, tuned == delta
    for name in ('config.json', 'model.safetensors.index.json'):
        p, q = os.path.join(a.base, name), os.path.join(a.export, name)
        if os.path.exists(p):
            same = os.path.exists(q) and open(p, 'rb').read() == open(q, 'rb').read()
            ok &= same
            print(f'{name}: {"identical" if same else "DIFFERS"}')
    if shard_files(a.base) != shard_files(a.export):
        print(f'shard files differ: {shard_files(a.base)} vs {shard_files(a.export)}')
        ok = False
    with safe_open(delta_path, 'pt') as d:
        delta = {k: raw(d, k) for k in d.keys()}
    changed, same, missing = [], 0, []
    for shard in shard_files(a.base):
        with safe_open(os.path.join(a.base, shard), 'pt') as fb, safe_open(os.path.join(a.export, shard), 'pt') as fe:
            ek = set(fe.keys())
            for k in fb.keys():
                if k not in ek:
                    missing.append(k)
                    continue
                tb, te = raw(fb, k), raw(fe, k)
                if fb.get_slice(k).get_dtype() != fe.get_slice(k).get_dtype() or tb.shape != te.shape:
                    print(f'{k}: dtype/shape changed')
                    ok = False
                elif torch.equal(tb, te):
                    same += 1
                else:
                    changed.append(k)
                    if k not in delta or not torch.equal(delta[k], te):
                        print(f'{k}: changed but not equal to the delta')
                        ok = False
    not_changed = sorted(set(delta) - set(changed))
    print(f'tensors: {same} bit-identical to the base, {len(changed)} changed, all changed ones in the delta '
          f'({len(delta)} tensors); delta tensors equal to the base: {len(not_changed)}; missing: {len(missing)}')
    if missing or set(changed) - set(delta):
        ok = False
    print('OK' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
