#!/usr/bin/env python3
"""How far PyTorch's own bf16 lands from float32 on the engine's test models: the yardstick for
the CUDA backend's tolerances (DESIGN.md, Numerics: "bf16 kernels: within 2x the error PyTorch bf16
shows against fp32 on the same inputs").

For each fixture model (test/fixtures/{llama,mistral,qwen2,qwen2-hd64,mistral-hd128}, made by
make_fixtures.py) the float32 HF model is cast to bf16 (weights rounded, every op computing in bf16
with fp32 accumulation as torch does) and run on the fixture's own inputs:
  - logits at every real position: ||bf16 - fp32|| / ||fp32|| per sequence (max over sequences);
  - gate_proj outputs (forward hooks): their relative error, the largest |g_bf16 - g_fp32| in units
    of rms(g_fp32), and how many counted (token, neuron) gate decisions g > 0 flip;
  - the masked translation loss and the grads of the fixture's trainable layers (per tensor);
  - 10 training steps as the engine runs them on a bf16 device: bf16 weights and activations, fp32
    master copies of the trainable tensors and fp32 AdamW moments, masters rounded back into the
    bf16 weights after each step: masters after 10 steps vs the fp32 run (per tensor), losses and
    grad norms per step (largest relative difference);
  - for the head-dim fixtures, their long batch (forward only): the per-token next-token NLL
    against the fixture's fp32 NLL, and the gate errors and flips as above ('long');
plus mini-ml (bf16 weights: only the compute is bf16) per-token NLL and last-position logits, and
stories260K greedy ids from BOS in bf16 against the recorded float32 ids (with the smallest top-1
minus top-2 logit margin of the fp32 run over those steps: how close greedy came to a tie), and
the bf16 error of its logits over one teacher-forced pass of BOS + those ids.

Writes test/fixtures/bf16-reference.json; test/cuda/model-cuda.test.ts derives its tolerances from
it. Run: python3 scripts/bf16_reference.py [--only MODEL,...] (CPU is fine; torch, transformers,
safetensors; --only measures those models again and keeps every other entry of the JSON as it is).
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, get_cosine_schedule_with_warmup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
ASSETS = os.path.join(ROOT, 'assets')


def rel(a, b):
    a, b = a.double(), b.double()
    return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-30)).item()


def batch_of(meta):
    lens = [len(x) for x in meta['ids']]
    T = max(lens)
    B = len(lens)
    ids = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    count = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b, n in enumerate(lens):
        ids[b, :n] = torch.tensor(meta['ids'][b])
        mask[b, :n] = 1
        count[b, :n] = torch.tensor(meta['count_mask'][b])
        s, e = meta['target_spans'][b]
        labels[b, s:e] = ids[b, s:e]
    return ids, mask, count, labels, lens


def loss_fn(model, ids, mask, labels):
    logits = model(input_ids=ids, attention_mask=mask).logits.float()  # HF's loss upcasts too
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


def forward_with_gates(model, ids, mask):
    gates = []
    hooks = [layer.mlp.gate_proj.register_forward_hook(lambda m, i, o: gates.append(o.detach().float()))
             for layer in model.model.layers]
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.float()
    for h in hooks:
        h.remove()
    return logits, gates


def fixture_model(name):
    d = os.path.join(FIXTURES, name)
    meta = json.load(open(os.path.join(d, 'expected.json')))
    expected = load_file(os.path.join(d, 'expected.safetensors'))
    ref = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation='eager').eval()
    bf = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation='eager').eval()
    bf = bf.to(torch.bfloat16)
    ids, mask, count, labels, lens = batch_of(meta)
    out = {}

    # Logits and gates.
    lr_, gr = forward_with_gates(ref, ids, mask)
    lb, gb = forward_with_gates(bf, ids, mask)
    out['logits_rel'] = max(rel(lb[b, :n], expected[f'logits.{b}']) for b, n in enumerate(lens))
    cm = count[..., None] > 0
    flips, decisions, gate_rel, gate_absmax = 0, 0, 0.0, 0.0
    for g32, g16 in zip(gr, gb):
        flips += ((g32 > 0) != (g16 > 0))[cm.expand_as(g32)].sum().item()
        decisions += cm.expand_as(g32).sum().item()
        real = (mask[..., None] > 0).expand_as(g32)
        gate_rel = max(gate_rel, rel(g16[real], g32[real]))
        rms = g32[real].pow(2).mean().sqrt()
        gate_absmax = max(gate_absmax, ((g16 - g32)[real].abs().max() / rms).item())
    counts16 = torch.stack([((g > 0) & cm).sum(dim=(0, 1)) for g in gb])
    assert torch.equal(torch.stack([((g > 0) & cm).sum(dim=(0, 1)) for g in gr]), expected['counts'])
    out['gate_rel'] = gate_rel
    out['gate_absmax_over_rms'] = gate_absmax
    out['count_flips'] = flips
    out['count_decisions'] = decisions
    out['count_abs_diff'] = (counts16 - expected['counts']).abs().sum().item()

    # Loss and grads of the trainable layers.
    for p in bf.parameters():
        p.requires_grad_(False)
    named = dict(bf.named_parameters())
    for n in meta['trainable']:
        named[n].requires_grad_(True)
    loss = loss_fn(bf, ids, mask, labels)
    loss.backward()
    out['loss_rel'] = abs(loss.item() - meta['loss']) / meta['loss']
    out['grads_rel'] = {n: rel(named[n].grad.float(), expected[f'grad.{n}']) for n in meta['trainable']}

    # 10 steps, mixed precision as on the device: fp32 masters + AdamW, bf16 weights refreshed.
    a = meta['adamw']
    masters = {n: named[n].detach().float().clone().requires_grad_(True) for n in meta['trainable']}
    opt = torch.optim.AdamW(list(masters.values()), lr=a['lr'], betas=(a['beta1'], a['beta2']), eps=a['eps'],
                            weight_decay=a['weight_decay'])
    sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=a['warmup_steps'],
                                            num_training_steps=a['total_steps'])
    step_loss_rel, step_norm_rel = 0.0, 0.0
    for i, st in enumerate(meta['steps']):
        for n in meta['trainable']:
            named[n].grad = None
        opt.zero_grad()
        l = loss_fn(bf, ids, mask, labels)
        l.backward()
        step_loss_rel = max(step_loss_rel, abs(l.item() - st['loss']) / st['loss'])
        for n in meta['trainable']:
            masters[n].grad = named[n].grad.float()
        norm = torch.nn.utils.clip_grad_norm_(list(masters.values()), a['clip']).item()
        step_norm_rel = max(step_norm_rel, abs(norm - st['grad_norm']) / st['grad_norm'])
        opt.step()
        sched.step()
        with torch.no_grad():
            for n in meta['trainable']:
                named[n].copy_(masters[n])
    out['steps_loss_rel'] = step_loss_rel
    out['steps_grad_norm_rel'] = step_norm_rel
    out['after_rel'] = {n: rel(masters[n].detach(), expected[f'after.{n}']) for n in meta['trainable']}
    if 'long' in meta:
        out['long'] = long_batch(ref, bf, meta['long'], expected)
    return out


def long_batch(ref, bf, long, expected):
    """The long batch of a head-dim fixture (forward only): the per-token next-token NLL against the
    fixture's fp32 NLL, and the gate errors and flips as for the main inputs. The bf16 model here
    is the one after the 10 steps above, so its weights are reloaded from the fp32 model first."""
    with torch.no_grad():
        for (n, p), (n2, p2) in zip(bf.named_parameters(), ref.named_parameters()):
            assert n == n2
            p.copy_(p2)
    lens = long['lengths']
    ids = expected['long.ids']
    B, T = ids.shape
    mask = torch.zeros(B, T, dtype=torch.long)
    count = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(lens):
        mask[b, :n] = 1
        count[b, 1:n - 1] = 1
    _, gr = forward_with_gates(ref, ids, mask)
    lb, gb = forward_with_gates(bf, ids, mask)
    logp = torch.log_softmax(lb, dim=-1)
    nll = torch.cat([-logp[b, :n - 1].gather(1, ids[b, 1:n, None])[:, 0] for b, n in enumerate(lens)])
    out = {'nll_rel': rel(nll, expected['long.nll'])}
    cm = count[..., None] > 0
    flips, decisions, gate_absmax = 0, 0, 0.0
    for g32, g16 in zip(gr, gb):
        flips += ((g32 > 0) != (g16 > 0))[cm.expand_as(g32)].sum().item()
        decisions += cm.expand_as(g32).sum().item()
        real = (mask[..., None] > 0).expand_as(g32)
        rms = g32[real].pow(2).mean().sqrt()
        gate_absmax = max(gate_absmax, ((g16 - g32)[real].abs().max() / rms).item())
    out['gate_absmax_over_rms'] = gate_absmax
    out['count_flips'] = flips
    out['count_decisions'] = decisions
    return out


def mini_ml():
    d = os.path.join(FIXTURES, 'mini-ml-ref')
    meta = json.load(open(os.path.join(d, 'expected.json')))
    expected = load_file(os.path.join(d, 'expected.safetensors'))
    model = AutoModelForCausalLM.from_pretrained(os.path.join(ASSETS, 'mini-ml'), dtype=torch.bfloat16,
                                                 attn_implementation='eager').eval()
    nll_rel, last_rel = 0.0, 0.0
    with torch.no_grad():
        for b, ids in enumerate(meta['ids']):
            logits = model(input_ids=torch.tensor([ids])).logits[0].float()
            logp = torch.log_softmax(logits, -1)
            nll = -logp[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
            nll_rel = max(nll_rel, rel(nll, expected[f'nll.{b}']))
            last_rel = max(last_rel, rel(logits[-1], expected[f'last.{b}']))
    return {'nll_rel': nll_rel, 'last_logits_rel': last_rel}


def stories(n_ids):
    d = os.path.join(ASSETS, 'stories260K')
    out = {}
    teacher = {}
    for dtype, key in ((torch.float32, 'fp32'), (torch.bfloat16, 'bf16')):
        model = AutoModelForCausalLM.from_pretrained(d, dtype=dtype, attn_implementation='eager').eval()
        ids = [1]
        margins = []
        with torch.no_grad():
            for _ in range(n_ids):
                logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
                top = torch.topk(logits, 2).values
                margins.append((top[0] - top[1]).item())
                ids.append(int(logits.argmax()))
        out[f'{key}_ids'] = ids[1:]
        out[f'{key}_min_margin'] = min(margins)
        with torch.no_grad():  # one teacher-forced pass over BOS + the fp32 greedy ids
            teacher[key] = model(input_ids=torch.tensor([[1] + out['fp32_ids']])).logits[0].float()
    out['teacher_logits_rel'] = rel(teacher['bf16'], teacher['fp32'])
    return out


MODELS = ('llama', 'mistral', 'qwen2', 'qwen2-hd64', 'mistral-hd128')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(FIXTURES, 'bf16-reference.json'))
    ap.add_argument('--only', default=None,
                    help='comma-separated fixture models to measure again; every other entry of the '
                         'existing --out file is kept as it is (the numbers of a model depend on the '
                         "CPU's float kernels, so a rerun elsewhere need not reproduce them bit for bit)")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    if args.only:
        names = args.only.split(',')
        for n in names:
            if n not in MODELS:
                raise SystemExit(f'--only: unknown model {n}; expected some of {", ".join(MODELS)}')
        res = json.load(open(args.out))
        models = {m: res['models'][m] for m in MODELS if m in res['models'] and m not in names}
        for n in names:
            models[n] = fixture_model(n)
        res['models'] = {m: models[m] for m in MODELS if m in models}
    else:
        res = {
            'generated_by': 'scripts/bf16_reference.py',
            'torch': torch.__version__,
            'transformers': __import__('transformers').__version__,
            'device': 'cpu',
            'models': {name: fixture_model(name) for name in MODELS},
            'mini-ml': mini_ml(),
            'stories260K': stories(40),
        }
    with open(args.out, 'w') as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == '__main__':
    main()
