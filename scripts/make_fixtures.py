#!/usr/bin/env python3
"""Reference fixtures from HF transformers (torch, CPU, float32) for the engine's model tests.

For small random llama (tied embeddings, llama3 RoPE scaling), mistral (GQA, sliding window)
and qwen2 (q/k/v bias) configs, writes test/fixtures/<name>/:
  config.json, model.safetensors, tokenizer.json, tokenizer_config.json  - an HF checkpoint
  expected.json         - inputs (ids, count masks, label spans) and scalars (loss, per-step lr,
                          grad norm and loss of 10 AdamW steps)
  expected.safetensors  - logits at every real position, per-layer counts of gate_proj(x) > 0
                          over the counted tokens (forward hooks), grads of two chosen layers,
                          and those layers' parameters after 10 torch.optim.AdamW steps.
and the same for the head-dim fixtures (HD_CONFIGS: qwen2-hd64, mistral-hd128; hidden 64 with head
dims 64 and 128, three sequences of up to 150 tokens, layer 1 trained), which also record a long
batch (80 x 128 tokens, forward only) in expected.safetensors: long.ids, long.nll (per-token
next-token NLL) and long.counts; sized to reach the CUDA flash-attention and wgmma kernels (see
the comment at HD_CONFIGS).

and, for `plast profile` (build_profile, from the checkpoint already in the directory):
  profile-plain.jsonl, profile-vicuna.jsonl  - parallel questions (a different loader layout per
                          model: llama wide/ISO codes, mistral wide/NTREX codes, qwen2 long)
  profile-expected.json - per set, language and question: the prompt's token ids and the masks of
                          each scope, derived here from the tokenizer's character offsets; the
                          counted tokens per scope and language
  profile-expected.safetensors - counts.<set>.<scope>.<lang>: I64 [layers, intermediate], the
                          tokens of the scope on which gate_proj(x) > 0 (forward hooks)

and, for the LLaVA vision tower (build_vision): llava-vision/ (a small random
LlavaForConditionalGeneration as transformers saves it, pixel_values and HF's tower hidden states
and projected image features in expected.safetensors) and llava-vision-hub/ (the same weights in
the hub layout, vision_tower.vision_model.*).

and, for a whole LLaVA model with images (build_llava_image): llava-image/ (a small random
LlavaForConditionalGeneration with a 2-layer decoder, a tokenizer holding <image>, the processor
config, two PNG images at the processor's size; the ids LlavaProcessor makes, logits, gate_proj
outputs, loss and decoder-layer gradients, and greedy ids, all with the images).

Run: python3 scripts/make_fixtures.py [--out test/fixtures] [--only profile|vision|image|hd]
     (needs torch, transformers, safetensors; --only profile / vision / image / hd leave every
     other file as it is)
"""
import argparse
import json
import math
import os
import re
import shutil

import torch
from safetensors.torch import save_file
from transformers import (AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config,
                          get_cosine_schedule_with_warmup)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOKENIZER_SRC = os.path.join(ROOT, 'assets', 'stories260K')

COMMON = dict(vocab_size=512, hidden_size=64, intermediate_size=88, num_hidden_layers=3,
              num_attention_heads=4, max_position_embeddings=128, rms_norm_eps=1e-5,
              bos_token_id=1, eos_token_id=2)

CONFIGS = {
    'llama': LlamaConfig(**COMMON, num_key_value_heads=4, tie_word_embeddings=True,
                         rope_scaling={'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
                                       'high_freq_factor': 4.0,
                                       'original_max_position_embeddings': 16},
                         rope_theta=10000.0),
    'mistral': MistralConfig(**COMMON, num_key_value_heads=2, sliding_window=8,
                             tie_word_embeddings=False, rope_theta=10000.0),
    'qwen2': Qwen2Config(**COMMON, num_key_value_heads=2, tie_word_embeddings=False,
                         use_sliding_window=False, rope_theta=1000000.0),
}

LENGTHS = [13, 20, 7]
TRAIN_LAYERS = [1, 2]
# The end-to-end run uses eps 1e-6: some gradients are analytically zero (k_proj biases, by
# softmax shift invariance; near-constant RoPE dims under llama3 scaling), and with eps 1e-8 Adam
# turns their rounding noise into full-size steps that no two implementations reproduce. The
# optimizer itself is checked at the default eps 1e-8 on torch's own gradients (optim.*).
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01)
OPTIM_EPS = 1e-8
OPTIM_TENSORS = ['model.layers.1.input_layernorm.weight', 'model.layers.2.post_attention_layernorm.weight']
OPTIM_GRAD_SCALES = [0.05, 0.3, 0.02, 0.5, 0.1, 0.001, 0.2, 0.08, 0.4, 0.01]
STEPS, WARMUP, CLIP = 10, 2, 1.0

# ---------------------------------------------------------------------------------------------
# Head-dim fixtures: the CUDA kernels a whole model reaches. The fixtures above have head dim 16,
# so on a GPU they run the generic attention kernels and the small mma.sync GEMM tile only. These
# two reach the flash-attention kernels and, in their long batch, the large GEMM tiles and the
# sm_90 wgmma kernels. What the "auto" choice (native/src/cuda/variants.cu) takes, and why:
#   attention forward (attention_fwd.cu, CudaBackend::attentionImpl): flash when D == 64 or 128,
#     on any arch (sm_80+), whatever T, GQA group, padding or window: launchFlashFwd<D, 4, 2>,
#     BQ = 128 query rows per CTA, 64-key tiles. Every other D runs the generic kernel.
#   attention backward (attention_bwd.cu): flash when D == 64 or 128 (launchFlashBwd<D, 4>: one CTA
#     per 64-key block and KV head, looping over the group's query heads, dq by f32 atomics).
#   linear forward (gemm.cu, linearImpl), N rows (tokens) x M features: in a build with sm_90a
#     (PLAST_WITH_SM90A, PLAST_CUDA_ARCHS has 90 by default) on a compute capability 9.0 device
#     with K % 8 == 0 and 16-byte aligned operands (sm90/gemm_sm90.cu, usable()), wgmma 128x256
#     when ceil(N/128) * ceil(M/256) * 2 >= SMs (132 on H100/H200 SXM); else the mma.sync tile
#     (pickTile): tc128x256s4 if ceil(N/128) * ceil(M/256) >= SMs, tc128x128s4 if
#     ceil(N/128) * ceil(M/128) >= SMs, else tc64x64s3 (and always tc64x64s3, unaligned, when K
#     is not a multiple of 8 or an operand is not 16-byte aligned).
#   ffn_up (swiglu.cu, the fused gate+up+swiglu+count GEMM), N tokens x I neurons: on sm_90 as
#     above, wgmma 128x128x2 when ceil(N/128) * ceil(I/128) * 2 >= SMs; else FfnCfgSmall while
#     ceil(N/128) * ceil(I/128) < SMs, FfnCfg4 otherwise.
#   Backward GEMMs (linear_backward_input/weight) are mma.sync only, tile by pickTile.
# The GEMM choices are grid-fill conditions, not shape conditions: no matrix-dimension multiple
# selects wgmma, the number of 128-row tiles does. A fixture small enough for the repository
# cannot fill 132 SMs with its 3 short sequences, so:
#   - the main inputs (HD_LENGTHS, 3 sequences padded to T = 150: 450 rows) reach flash forward
#     and backward on sm_80 and sm_90 (two 128-row query blocks, three 64-key tiles, padded and
#     fully masked key tiles; mistral-hd128's window of 40 skips whole tiles: key tile 0 for query
#     block 1 forward, query tile 2 for key block 0 backward) and the
#     tc64x64s3 / FfnCfgSmall GEMMs (4 row tiles x 1-2 column tiles, far below any SM count);
#   - the long batch (LONG_BATCH: 80 sequences padded to 128 = 10240 rows, forward only, logits at
#     every real position: about 8800 LM-head rows) reaches, on sm_90 with up to 160 SMs, wgmma
#     for every linear forward (q/k/v/o/down: 80 * 1 * 2 = 160 >= 132; LM head, M = 512:
#     69 * 2 * 2 = 276) and the wgmma ffn_up (80 * 1 * 2 = 160); on an A100 (sm_80, 108 SMs):
#     tc128x256s4 for the LM head (69 * 2 = 138 >= 108), tc128x128s4 for q_proj (80 * 2 = 160;
#     M = 256), tc64x64s3 for k/v/o/down (80 * 1 < 108) and FfnCfgSmall for ffn_up (80 * 1 < 108),
#     plus flash forward over 80 sequences with padding.
# Shapes: hidden 64 with an explicit head_dim (q_proj 64 -> heads x head_dim = 256), so the
# checkpoints stay near the size of the fixtures above (about 1 MB of fp32 weights each) while the
# attention runs at the head dims of real models:
#   qwen2-hd64:    4 heads x 64, 2 KV heads (GQA group 2 over 2 KV heads, so a KV-head index
#                  mix-up shows), q/k/v biases (the bias epilogue of wgmma and mma.sync), tied.
#   mistral-hd128: 2 heads x 128, 1 KV head, sliding window 40 (flash tile skipping), untied.
# Intermediate 128, 3 layers, vocab 512 (the shared tokenizer). Grads and 10 steps train layer 1
# only (the backward still runs layer 2's attention backward), to keep expected.safetensors small.
HD_COMMON = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                 max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)
HD_CONFIGS = {
    'qwen2-hd64': Qwen2Config(**HD_COMMON, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                              tie_word_embeddings=True, use_sliding_window=False, rope_theta=1000000.0),
    'mistral-hd128': MistralConfig(**HD_COMMON, num_attention_heads=2, num_key_value_heads=1,
                                   head_dim=128, sliding_window=40, tie_word_embeddings=False,
                                   rope_theta=10000.0),
}
HD_LENGTHS = [150, 77, 20]
HD_TRAIN_LAYERS = [1]
# 80 sequences padded to 128 tokens; sequence b has 128 - 9 * (b % 5) tokens.
LONG_BATCH = dict(sequences=80, length=128, shorten=9, period=5)


def perturb(model, gen):
    # HF init leaves norms at 1 and biases at 0; random values make every gradient path visible.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('norm.weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith('.bias'):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=gen))


def make_inputs(gen, vocab, lengths=LENGTHS):
    T = max(lengths)
    ids = torch.zeros(len(lengths), T, dtype=torch.long)
    mask = torch.zeros(len(lengths), T, dtype=torch.long)
    count = torch.zeros(len(lengths), T, dtype=torch.long)
    labels = torch.full((len(lengths), T), -100, dtype=torch.long)
    spans = []
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(3, vocab, (n,), generator=gen)
        ids[b, 0] = 1
        mask[b, :n] = 1
        count[b, 1:n - 1] = 1  # "question" tokens: not BOS, not the last
        start = n - max(2, (2 * n) // 5)  # target span: the last ~40% of tokens
        spans.append([start, n])
        labels[b, start:n] = ids[b, start:n]
    return ids, mask, count, labels, spans


def loss_fn(model, ids, mask, labels):
    logits = model(input_ids=ids, attention_mask=mask).logits
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    shift_labels = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=-100)


def save_model(model, d):
    """Safetensors and config.json, without a generation_config.json."""
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    gc = os.path.join(d, 'generation_config.json')
    if os.path.exists(gc):
        os.remove(gc)


def save_checkpoint(model, d):
    """An HF checkpoint directory as the engine loads it: the model and the shared tokenizer."""
    save_model(model, d)
    for f in ('tokenizer.json', 'tokenizer_config.json'):
        shutil.copy(os.path.join(TOKENIZER_SRC, f), os.path.join(d, f))


def forward_with_counts(model, cfg, ids, mask, count):
    """Logits of a forward without grad, and per layer and neuron the number of counted tokens
    (count > 0) whose gate_proj output is > 0 (HF's `out > 0`), taken by forward hooks."""
    counts = torch.zeros(cfg.num_hidden_layers, cfg.intermediate_size, dtype=torch.int64)
    hooks = []
    for i, layer in enumerate(model.model.layers):
        def hook(mod, inp, out, i=i):
            counts[i] += ((out > 0) & (count[..., None] > 0)).sum(dim=(0, 1))
        hooks.append(layer.mlp.gate_proj.register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits
    finally:
        for h in hooks:
            h.remove()
    return logits, counts


def build(name, cfg, out_dir, seed, lengths=LENGTHS, train_layers=TRAIN_LAYERS, long_batch=None):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cfg._attn_implementation = 'eager'
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation='eager').float().eval()
    perturb(model, gen)
    d = os.path.join(out_dir, name)
    save_checkpoint(model, d)

    ids, mask, count, labels, spans = make_inputs(gen, cfg.vocab_size, lengths)
    tensors = {}

    # Logits at real positions and gate counts via forward hooks on gate_proj.
    logits, counts = forward_with_counts(model, cfg, ids, mask, count)
    for b, n in enumerate(lengths):
        tensors[f'logits.{b}'] = logits[b, :n].contiguous()
    tensors['counts'] = counts
    long_meta = None
    if long_batch is not None:  # before any training step: the checkpoint's weights
        long_meta = build_long(model, cfg, long_batch, seed, tensors)

    # Loss and grads of the chosen layers; everything else frozen.
    for p in model.parameters():
        p.requires_grad_(False)
    train = {n: p for n, p in model.named_parameters()
             if any(n.startswith(f'model.layers.{i}.') for i in train_layers)}
    for p in train.values():
        p.requires_grad_(True)
    loss = loss_fn(model, ids, mask, labels)
    loss.backward()
    for n, p in train.items():
        tensors[f'grad.{n}'] = p.grad.detach().clone()
    first_loss = loss.item()

    # 10 AdamW steps with warmup + cosine and gradient clipping, as the training loop runs them.
    for p in train.values():
        p.grad = None
    opt = torch.optim.AdamW(list(train.values()), **ADAMW)
    sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=WARMUP, num_training_steps=STEPS)
    steps = []
    for step in range(STEPS):
        opt.zero_grad()
        lr = opt.param_groups[0]['lr']
        l = loss_fn(model, ids, mask, labels)
        l.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(train.values()), CLIP).item()
        opt.step()
        sched.step()
        steps.append({'loss': l.item(), 'lr': lr, 'grad_norm': norm})
    for n, p in train.items():
        tensors[f'after.{n}'] = p.detach().clone()

    # The optimizer alone: torch.optim.AdamW (eps 1e-8) + the same schedule and clipping on given
    # gradients, so the engine's AdamW can be fed exactly torch's gradients step by step.
    optim_params = {n: dict(model.named_parameters())[n].detach().clone().requires_grad_(True)
                    for n in OPTIM_TENSORS}
    for n, p in optim_params.items():
        tensors[f'optim.init.{n}'] = p.detach().clone()
    opt2 = torch.optim.AdamW(list(optim_params.values()), lr=ADAMW['lr'], betas=ADAMW['betas'],
                             eps=OPTIM_EPS, weight_decay=ADAMW['weight_decay'])
    sched2 = get_cosine_schedule_with_warmup(opt2, num_warmup_steps=WARMUP, num_training_steps=STEPS)
    optim_steps = []
    for step in range(STEPS):
        opt2.zero_grad()
        lr = opt2.param_groups[0]['lr']
        for n, p in optim_params.items():
            g = OPTIM_GRAD_SCALES[step] * torch.randn(p.shape, generator=gen)
            tensors[f'optim.grad.{step}.{n}'] = g.clone()
            p.grad = g
        norm = torch.nn.utils.clip_grad_norm_(list(optim_params.values()), CLIP).item()
        opt2.step()
        sched2.step()
        for n, p in optim_params.items():
            tensors[f'optim.after.{step}.{n}'] = p.detach().clone()
        optim_steps.append({'lr': lr, 'grad_norm': norm})

    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(d, 'expected.safetensors'))
    meta = {
        'model': name,
        'generated_by': 'scripts/make_fixtures.py',
        'torch': torch.__version__,
        'transformers': __import__('transformers').__version__,
        'lengths': lengths,
        'ids': [ids[b, :n].tolist() for b, n in enumerate(lengths)],
        'count_mask': [count[b, :n].tolist() for b, n in enumerate(lengths)],
        'target_spans': spans,
        'counted_tokens': int(count.sum()),
        'loss': first_loss,
        'label_tokens': int((labels[:, 1:] != -100).sum()),
        'train_layers': train_layers,
        'trainable': sorted(train.keys()),
        'adamw': {'lr': ADAMW['lr'], 'beta1': ADAMW['betas'][0], 'beta2': ADAMW['betas'][1],
                  'eps': ADAMW['eps'], 'weight_decay': ADAMW['weight_decay'],
                  'warmup_steps': WARMUP, 'total_steps': STEPS, 'clip': CLIP},
        'steps': steps,
        'optim': {'tensors': OPTIM_TENSORS, 'eps': OPTIM_EPS, 'steps': optim_steps},
    }
    if long_meta is not None:
        meta['long'] = long_meta
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'{name}: loss {first_loss:.6f}, counted {meta["counted_tokens"]}, '
          f'final loss {steps[-1]["loss"]:.6f} -> {d}')


def build_long(model, cfg, spec, seed, tensors):
    """The long batch of a head-dim fixture (LONG_BATCH, forward only): random ids from their own
    generator, padded on the right; records long.ids [B, T] (I64, 0 after each sequence's end),
    long.nll (F32: -log p(ids[t + 1]) at t = 0 .. n - 2 of each sequence, concatenated) and
    long.counts (I64 [layers, intermediate]: gate_proj(x) > 0 over the counted tokens, 1 .. n - 2
    as in make_inputs). Returns the metadata for expected.json."""
    gen = torch.Generator().manual_seed(seed + 500)
    B, T = spec['sequences'], spec['length']
    lengths = [T - spec['shorten'] * (b % spec['period']) for b in range(B)]
    ids = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    count = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(3, cfg.vocab_size, (n,), generator=gen)
        ids[b, 0] = 1
        mask[b, :n] = 1
        count[b, 1:n - 1] = 1
    logits, counts = forward_with_counts(model, cfg, ids, mask, count)
    logp = torch.log_softmax(logits, dim=-1)
    nll = [-logp[b, :n - 1].gather(1, ids[b, 1:n, None])[:, 0] for b, n in enumerate(lengths)]
    tensors['long.ids'] = ids
    tensors['long.nll'] = torch.cat(nll).contiguous()
    tensors['long.counts'] = counts
    return {'lengths': lengths, 'rows': B * T, 'logit_rows': sum(lengths),
            'counted_tokens': int(count.sum())}


def build_llava(out_dir):
    """A LLaVA checkpoint (transformers 5 layout: model.language_model.*, a tiny CLIP tower and
    projector) whose language model is the llama fixture: text-only logits must match."""
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration
    src = os.path.join(out_dir, 'llama')
    lm = AutoModelForCausalLM.from_pretrained(src, attn_implementation='eager').float().eval()
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                              num_attention_heads=2, image_size=28, patch_size=14)
    cfg = LlavaConfig(vision_config=vision, text_config=lm.config, image_token_index=3)
    model = LlavaForConditionalGeneration(cfg).float().eval()
    missing = model.model.language_model.load_state_dict(lm.model.state_dict())
    assert not missing.missing_keys, missing
    model.lm_head.weight = model.model.language_model.embed_tokens.weight  # tied, as in the source
    d = os.path.join(out_dir, 'llava')
    save_checkpoint(model, d)
    meta = json.load(open(os.path.join(src, 'expected.json')))
    tensors = {}
    with torch.no_grad():
        for b, ids in enumerate(meta['ids']):
            out = model(input_ids=torch.tensor([ids])).logits[0]
            tensors[f'logits.{b}'] = out.contiguous()
    save_file(tensors, os.path.join(d, 'expected.safetensors'))
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump({'model': 'llava', 'source': 'llama', 'ids': meta['ids']}, f, indent=1)
    print(f'llava: text-only logits of the llama fixture through a LLaVA checkpoint -> {d}')


# ---------------------------------------------------------------------------------------------
# The CLIP vision tower and projector of a LLaVA checkpoint, forward only.

VISION_SEED = 2000
VISION_BATCH = 2


def perturb_all(model, gen):
    """Random values for every parameter: LayerNorm weights near 1, biases and everything else
    small, so that each weight (class embedding and biases included) changes the outputs."""
    with torch.no_grad():
        for mod in model.modules():
            for pname, p in mod.named_parameters(recurse=False):
                if isinstance(mod, torch.nn.LayerNorm) and pname == 'weight':
                    p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
                elif pname == 'bias':
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))
                elif 'norm' in type(mod).__name__.lower() and pname == 'weight':  # RMSNorm
                    p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.08 * torch.randn(p.shape, generator=gen))


def random_llava(vision, text, image_token_index, gen):
    """A LlavaForConditionalGeneration with every parameter random (perturb_all), a GELU projector,
    layer -2 / default features and tied embeddings, in eager attention."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration
    patches = (vision.image_size // vision.patch_size) ** 2
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token_index,
                      projector_hidden_act='gelu', vision_feature_layer=-2,
                      vision_feature_select_strategy='default', image_seq_length=patches,
                      tie_word_embeddings=True)
    cfg._attn_implementation = 'eager'
    model = LlavaForConditionalGeneration._from_config(cfg, attn_implementation='eager').float().eval()
    perturb_all(model, gen)
    model.lm_head.weight = model.model.language_model.embed_tokens.weight
    return model, patches


def hub_name(name):
    """The name a transformers-5 LLaVA tensor has in the hub layout (llava-hf/llava-1.5-7b-hf,
    written by transformers 4): the CLIP tower under vision_tower.vision_model.*."""
    return re.sub(r'^vision_tower\.', 'vision_tower.vision_model.', name)


def build_vision(out_dir):
    """A small random LlavaForConditionalGeneration (CLIP tower: 3 layers, 4 heads, quick_gelu,
    32x32 images in 8x8 patches = 16 patches + CLS; GELU projector; a 1-layer llama decoder) saved
    by transformers as it saves it (llava-vision/) and renamed to the hub layout
    (llava-vision-hub/: config.json and model.safetensors only). Expected outputs for fixed random
    pixel_values [2, 3, 32, 32]: every hidden state of the tower (hidden_states.<k>, k = 0 the
    embeddings after pre_layrnorm ... k = layers the last layer's output) and the projected image
    features (features.<strategy>.<layer>) for the config's layer -2 / default and a few others."""
    from safetensors import safe_open
    from transformers import CLIPVisionConfig, LlavaForConditionalGeneration
    gen = torch.Generator().manual_seed(VISION_SEED)
    torch.manual_seed(VISION_SEED)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                              num_attention_heads=4, image_size=32, patch_size=8,
                              hidden_act='quick_gelu', layer_norm_eps=1e-5, projection_dim=32)
    text = LlamaConfig(vocab_size=512, hidden_size=48, intermediate_size=64, num_hidden_layers=1,
                       num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
                       rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True)
    model, patches = random_llava(vision, text, 3, gen)
    d = os.path.join(out_dir, 'llava-vision')
    save_checkpoint(model, d)

    # The hub layout: the same tensors under their transformers-4 names.
    hub = os.path.join(out_dir, 'llava-vision-hub')
    os.makedirs(hub, exist_ok=True)
    shutil.copy(os.path.join(d, 'config.json'), os.path.join(hub, 'config.json'))
    with safe_open(os.path.join(d, 'model.safetensors'), 'pt') as f:
        saved = {k: f.get_tensor(k) for k in f.keys()}
    save_file({hub_name(k): v for k, v in saved.items()}, os.path.join(hub, 'model.safetensors'),
              metadata={'format': 'pt'})

    # The checkpoint as transformers reloads it must be the model in memory.
    re_model = LlavaForConditionalGeneration.from_pretrained(d, attn_implementation='eager').float().eval()
    hub_model = LlavaForConditionalGeneration.from_pretrained(hub, attn_implementation='eager').float().eval()
    sd = model.state_dict()
    for m in (re_model, hub_model):
        for k, v in m.state_dict().items():
            assert torch.equal(v, sd[k]), k

    B, L = VISION_BATCH, vision.num_hidden_layers
    pixels = torch.randn(B, 3, vision.image_size, vision.image_size, generator=gen)
    tensors = {'pixel_values': pixels.contiguous()}
    # Each encoder layer's output, by hooks, to pin what hidden_states[k] is.
    layer_out = []
    hooks = [l.register_forward_hook(lambda mod, inp, out: layer_out.append(out[0] if isinstance(out, tuple) else out))
             for l in model.model.vision_tower.encoder.layers]
    variants = [(-2, 'default'), (-1, 'full'), (0, 'default'), (1, 'full')]
    with torch.no_grad():
        out = model.model.get_image_features(pixel_values=pixels, vision_feature_layer=-2,
                                             vision_feature_select_strategy='default')
        for h in hooks:
            h.remove()
        hs = out.hidden_states
        assert len(hs) == L + 1, len(hs)
        vt = model.model.vision_tower
        emb = vt.pre_layrnorm(vt.embeddings(pixels))
        assert torch.equal(hs[0], emb)
        for i in range(L):
            assert torch.equal(hs[i + 1], layer_out[i]), i
        for k in range(L + 1):
            tensors[f'hidden_states.{k}'] = hs[k].contiguous()
        for layer, strategy in variants:
            o = model.model.get_image_features(pixel_values=pixels, vision_feature_layer=layer,
                                               vision_feature_select_strategy=strategy)
            feats = torch.stack(list(o.pooler_output))
            tensors[f'features.{strategy}.{layer}'] = feats.contiguous()
        # The model's own forward with the config's defaults must use the same features.
        assert torch.equal(torch.stack(list(out.pooler_output)), tensors['features.default.-2'])
    save_file(tensors, os.path.join(d, 'expected.safetensors'))
    meta = {
        'model': 'llava-vision',
        'generated_by': 'scripts/make_fixtures.py (build_vision)',
        'torch': torch.__version__,
        'transformers': __import__('transformers').__version__,
        'batch': B,
        'image_size': vision.image_size,
        'patch_size': vision.patch_size,
        'patches': patches,
        'vision_layers': L,
        'vision_hidden': vision.hidden_size,
        'text_hidden': text.hidden_size,
        'hidden_states': 'hidden_states.<k>: [batch, patches + 1, vision_hidden], k = 0 (embeddings '
                         'after pre_layrnorm) .. vision_layers (output of the last encoder layer)',
        'features': [{'name': f'features.{s}.{l}', 'vision_feature_layer': l,
                      'vision_feature_select_strategy': s} for l, s in variants],
        'hub_layout': 'llava-vision-hub: vision_tower.vision_model.*, the rest unchanged',
    }
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'llava-vision: {L}-layer CLIP tower, {patches} patches, batch {B} -> {d} (+ {hub})')


# ---------------------------------------------------------------------------------------------
# A whole LLaVA model with images: the tower's features spliced into the decoder at <image>.

IMAGE_SEED = 3000
IMAGE_PROMPTS = [
    ('USER: <image>\nWhat is in the picture? ASSISTANT:', ' A small cat.'),
    ('<image>\nDescribe it. ASSISTANT:', ' Red.'),
]
IMAGE_GENERATE_TOKENS = 6


def build_llava_image(out_dir):
    """A small random LlavaForConditionalGeneration with a 2-layer llama decoder and a tokenizer
    holding an <image> token, run on two prompts with one image each through HF's LlavaProcessor
    (the <image> placeholder expanded to the image's feature count) and the model: the ids, the
    pixel values, every position's logits, every decoder layer's gate_proj output (forward hooks),
    the loss and every decoder-layer gradient with labels on the answers, and greedy ids."""
    import numpy as np
    from PIL import Image
    from transformers import (CLIPImageProcessor, CLIPVisionConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)
    gen = torch.Generator().manual_seed(IMAGE_SEED)
    torch.manual_seed(IMAGE_SEED)
    d = os.path.join(out_dir, 'llava-image')
    os.makedirs(d, exist_ok=True)
    tok = PreTrainedTokenizerFast.from_pretrained(TOKENIZER_SRC)
    tok.add_special_tokens({'additional_special_tokens': ['<image>']})
    tok.pad_token = '<unk>'
    image_id = tok.convert_tokens_to_ids('<image>')
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                              num_attention_heads=4, image_size=32, patch_size=8,
                              hidden_act='quick_gelu', layer_norm_eps=1e-5, projection_dim=32)
    text = LlamaConfig(vocab_size=520, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                       rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                       tie_word_embeddings=True)
    model, patches = random_llava(vision, text, image_id, gen)
    save_model(model, d)
    ip = CLIPImageProcessor(size={'shortest_edge': 32}, crop_size={'height': 32, 'width': 32})
    proc = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=vision.patch_size,
                          vision_feature_select_strategy='default', num_additional_image_tokens=1)
    proc.save_pretrained(d)

    # Images already at the processor's size (resize and crop are then the identity), as PNG files.
    images, files = [], []
    for i in range(len(IMAGE_PROMPTS)):
        px = torch.randint(0, 256, (32, 32, 3), generator=gen, dtype=torch.uint8).numpy()
        im = Image.fromarray(px, 'RGB')
        f = f'image{i}.png'
        im.save(os.path.join(d, f))
        images.append(Image.open(os.path.join(d, f)).convert('RGB'))
        files.append(f)
    texts = [q + a for q, a in IMAGE_PROMPTS]
    tok.padding_side = 'right'
    enc = proc(text=texts, images=images, return_tensors='pt', padding=True)
    ids, mask, pixels = enc['input_ids'], enc['attention_mask'], enc['pixel_values']
    assert int((ids == image_id).sum()) == len(images) * patches
    prompt_lens = [len(proc(text=[q], images=[im])['input_ids'][0]) for (q, _), im in zip(IMAGE_PROMPTS, images)]
    lengths = mask.sum(dim=1).tolist()
    labels = torch.full_like(ids, -100)
    for b, (p, n) in enumerate(zip(prompt_lens, lengths)):
        labels[b, p:n] = ids[b, p:n]

    tensors = {'input_ids': ids.contiguous(), 'pixel_values': pixels.contiguous()}
    layers = model.model.language_model.layers
    gates = {}
    hooks = [l.mlp.gate_proj.register_forward_hook(lambda mod, inp, out, i=i: gates.__setitem__(i, out.detach().clone()))
             for i, l in enumerate(layers)]
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, pixel_values=pixels).logits
    for h in hooks:
        h.remove()
    tensors['logits'] = logits.contiguous()
    for i in range(len(layers)):
        tensors[f'gates.{i}'] = gates[i].contiguous()
    with torch.no_grad():
        feats = model.model.get_image_features(pixel_values=pixels, vision_feature_layer=-2,
                                               vision_feature_select_strategy='default')
        tensors['features'] = torch.stack(list(feats.pooler_output)).contiguous()

    model.zero_grad()
    loss = loss_fn_pixels(model, ids, mask, labels, pixels)
    loss.backward()
    tensors['loss'] = loss.detach().reshape(1)
    for name, p in model.model.language_model.layers.named_parameters():
        tensors[f'grad.model.layers.{name}'] = p.grad.contiguous()
    vision_grads = [p.grad for p in model.model.vision_tower.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in vision_grads)  # HF would train it; PLAST does not

    q_ids = proc(text=[IMAGE_PROMPTS[0][0]], images=[images[0]], return_tensors='pt')
    with torch.no_grad():
        out = model.generate(**q_ids, max_new_tokens=IMAGE_GENERATE_TOKENS, do_sample=False)
    greedy = out[0, q_ids['input_ids'].shape[1]:].tolist()
    save_file(tensors, os.path.join(d, 'expected.safetensors'))
    meta = {
        'model': 'llava-image',
        'generated_by': 'scripts/make_fixtures.py (build_llava_image)',
        'torch': torch.__version__,
        'transformers': __import__('transformers').__version__,
        'image_token_id': image_id,
        'patches': patches,
        'images': files,
        'prompts': [{'prompt': q, 'answer': a} for q, a in IMAGE_PROMPTS],
        'lengths': lengths,
        'prompt_lengths': prompt_lens,
        'label_rule': 'labels = input_ids on [prompt_length, length), -100 elsewhere; loss = mean '
                      'cross entropy of logits[:, :-1] against labels[:, 1:]',
        'greedy': {'prompt': 0, 'max_new_tokens': IMAGE_GENERATE_TOKENS, 'ids': greedy},
        'gates': 'gates.<layer>: [batch, T, intermediate] gate_proj outputs (HF counts out > 0)',
    }
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'llava-image: 2 prompts with one image each ({patches} features), greedy {greedy} -> {d}')


IMAGE_TOKEN_INDEX = -200  # the original LLaVA code's placeholder id (llava/constants.py)


def tokenizer_image_token(prompt, tokenizer):
    """llava/mm_utils.py tokenizer_image_token, as the original LLaVA repository writes it."""
    chunks = [tokenizer(chunk).input_ids for chunk in prompt.split('<image>')]
    input_ids, offset = [], 0
    if chunks and chunks[0] and chunks[0][0] == tokenizer.bos_token_id:
        offset = 1
        input_ids.append(chunks[0][0])
    sep = [IMAGE_TOKEN_INDEX] * (offset + 1)
    for x in [e for sub in zip(chunks, [sep] * len(chunks)) for e in sub][:-1]:
        input_ids.extend(x[offset:])
    return input_ids


def build_llava_original(out_dir):
    """The llava-image model in the original LLaVA layout (liuhaotian/llava-v1.5-*): a
    llava_llama config with mm_* fields, the language model under model.*, the projector as
    model.mm_projector.0/2, no <image> token in the tokenizer; and the CLIP tower as a separate
    CLIPModel-style checkpoint (llava-original-tower/: model_type clip, vision_model.* tensors, its
    preprocessor_config.json), as mm_vision_tower names it. Expected: the ids tokenizer_image_token
    makes (-200 for the image) and HF's logits for them with the image (the same weights run by
    LlavaForConditionalGeneration, each -200 expanded to the image's placeholders)."""
    from PIL import Image
    from transformers import (CLIPImageProcessor, LlavaForConditionalGeneration,
                              PreTrainedTokenizerFast)
    src = os.path.join(out_dir, 'llava-image')
    model = LlavaForConditionalGeneration.from_pretrained(src, attn_implementation='eager').float().eval()
    cfg = model.config
    d = os.path.join(out_dir, 'llava-original')
    tower = os.path.join(out_dir, 'llava-original-tower')
    os.makedirs(d, exist_ok=True)
    os.makedirs(tower, exist_ok=True)
    lm, vt = {}, {}
    for k, v in model.state_dict().items():
        v = v.detach().clone().contiguous()
        if k.startswith('model.language_model.'):
            lm['model.' + k[len('model.language_model.'):]] = v
        elif k.startswith('model.multi_modal_projector.'):
            leaf = k[len('model.multi_modal_projector.'):]
            lm['model.mm_projector.' + leaf.replace('linear_1.', '0.').replace('linear_2.', '2.')] = v
        elif k.startswith('model.vision_tower.'):
            vt['vision_model.' + k[len('model.vision_tower.'):]] = v
    assert 'lm_head.weight' not in lm  # tied, as in the source config
    save_file(lm, os.path.join(d, 'model.safetensors'), metadata={'format': 'pt'})
    vt['text_model.final_layer_norm.weight'] = torch.ones(4)  # a CLIPModel's text side: ignored
    save_file(vt, os.path.join(tower, 'model.safetensors'), metadata={'format': 'pt'})
    text = cfg.text_config.to_dict()
    for k in ('architectures', 'model_type', 'transformers_version', 'dtype', 'torch_dtype'):
        text.pop(k, None)
    vc = cfg.vision_config
    top = {**text, 'architectures': ['LlavaLlamaForCausalLM'], 'model_type': 'llava_llama',
           'mm_vision_tower': 'openai/clip-vit-large-patch14-336', 'mm_projector_type': 'mlp2x_gelu',
           'mm_hidden_size': vc.hidden_size, 'mm_vision_select_layer': -2,
           'mm_vision_select_feature': 'patch', 'image_aspect_ratio': 'pad',
           'mm_use_im_start_end': False, 'mm_use_im_patch_token': False, 'tie_word_embeddings': True}
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(top, f, indent=1)
    vdict = vc.to_dict()
    for k in ('transformers_version', 'dtype', 'torch_dtype'):
        vdict.pop(k, None)
    with open(os.path.join(tower, 'config.json'), 'w') as f:
        json.dump({'architectures': ['CLIPModel'], 'model_type': 'clip', 'projection_dim': 32,
                   'vision_config': vdict}, f, indent=1)
    CLIPImageProcessor(size={'shortest_edge': 32}, crop_size={'height': 32, 'width': 32}).save_pretrained(tower)
    for f in ('tokenizer.json', 'tokenizer_config.json'):
        shutil.copy(os.path.join(TOKENIZER_SRC, f), os.path.join(d, f))
    tok = PreTrainedTokenizerFast.from_pretrained(d)

    meta = json.load(open(os.path.join(src, 'expected.json')))
    n = meta['patches']
    proc = CLIPImageProcessor.from_pretrained(tower)
    cases, tensors = [], {}
    for b, (p, img) in enumerate(zip(meta['prompts'], meta['images'])):
        prompt = p['prompt'] + p['answer']
        ids = tokenizer_image_token(prompt, tok)
        assert ids.count(IMAGE_TOKEN_INDEX) == 1
        expanded = []
        for i in ids:
            expanded.extend([cfg.image_token_id] * n if i == IMAGE_TOKEN_INDEX else [i])
        im = Image.open(os.path.join(src, img)).convert('RGB')
        pixels = proc(images=[im], return_tensors='pt')['pixel_values']
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([expanded]), pixel_values=pixels).logits[0]
        tensors[f'logits.{b}'] = logits.contiguous()
        cases.append({'prompt': prompt, 'image': img, 'ids': ids})
    save_file(tensors, os.path.join(d, 'expected.safetensors'))
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump({'model': 'llava-original', 'generated_by': 'scripts/make_fixtures.py (build_llava_original)',
                   'transformers': __import__('transformers').__version__, 'tower': '../llava-original-tower',
                   'image_token_index': IMAGE_TOKEN_INDEX, 'patches': n, 'cases': cases,
                   'logits': 'logits.<case>: [len(ids) - 1 + patches, vocab], each -200 expanded to the patches'},
                  f, indent=1)
    print(f'llava-original: the llava-image weights in the original LLaVA layout (+ {tower}) -> {d}')


def loss_fn_pixels(model, ids, mask, labels, pixels):
    logits = model(input_ids=ids, attention_mask=mask, pixel_values=pixels).logits
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    shift_labels = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=-100)


def build_mini_ml_reference(out_dir):
    """HF logits of the bundled bf16 multilingual model (assets/mini-ml), computed in float32 from
    the bf16 weights, for a few prompts: per-token NLL and the last position's logits."""
    from transformers import AutoTokenizer
    src = os.path.join(ROOT, 'assets', 'mini-ml')
    tok = AutoTokenizer.from_pretrained(src)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32, attn_implementation='eager').eval()
    prompts = ['Translate this from Russian to English:\nRussian: Сколько очков уступила защита?\nEnglish: How many points',
               'كم نقطة تخلى عنها دفاع البانثرز؟',
               '黑豹队的防守丢了多少分？ The Panthers defense']
    tensors, ids_all = {}, []
    with torch.no_grad():
        for b, p in enumerate(prompts):
            ids = tok(p).input_ids
            ids_all.append(ids)
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            logp = torch.log_softmax(logits, -1)
            nll = -logp[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
            tensors[f'nll.{b}'] = nll.contiguous()
            tensors[f'last.{b}'] = logits[-1].contiguous()
    d = os.path.join(out_dir, 'mini-ml-ref')
    os.makedirs(d, exist_ok=True)
    save_file(tensors, os.path.join(d, 'expected.safetensors'))
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump({'model': 'assets/mini-ml', 'prompts': prompts, 'ids': ids_all}, f, indent=1,
                  ensure_ascii=False)
    print(f'mini-ml-ref: {len(prompts)} prompts -> {d}')


# ---------------------------------------------------------------------------------------------
# `plast profile` fixtures: gate counts over the question-scope tokens of parallel questions.

VICUNA_SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. The "
                 "assistant gives helpful, detailed, and polite answers to the human's questions.")

# Two sets of parallel questions (written for these fixtures). The vicuna frame alone is 110 of
# the fixture models' 128 positions, so its questions are a few tokens long.
PROFILE_SETS = {
    'plain': {
        'template': 'plain',
        'langs': ['en', 'ru', 'zh'],
        'questions': [
            {'id': 'p1', 'en': 'How many points did the team score?', 'ru': 'Сколько очков набрала команда?', 'zh': '球队得了多少分？'},
            {'id': 'p2', 'en': 'Where is the old bridge?', 'ru': 'Где старый мост?', 'zh': '老桥在哪里？'},
            {'id': 'p3', 'en': 'Who wrote this book?', 'ru': 'Кто написал эту книгу?', 'zh': '这本书是谁写的？'},
            {'id': 'p4', 'en': 'What color is the sky today?', 'ru': 'Какого цвета сегодня небо?', 'zh': '今天天空是什么颜色？'},
        ],
    },
    'vicuna': {
        'template': 'vicuna',
        'langs': ['en', 'tr', 'pt'],
        'questions': [
            {'id': 'v1', 'en': 'Why?', 'tr': 'Neden?', 'pt': 'Quando?'},
            {'id': 'v2', 'en': 'Who won?', 'tr': 'Kim?', 'pt': 'Quem?'},
        ],
    },
}
# Column names per language for the NTREX-style wide layout (mistral's data files).
NTREX = {'en': 'eng', 'ru': 'rus', 'zh': 'zho-CN', 'tr': 'tur', 'pt': 'por'}
# Which loader layout each model's data files use, so every layout is run end to end.
PROFILE_LAYOUT = {'llama': 'wide-iso', 'mistral': 'wide-ntrex', 'qwen2': 'long'}
SCOPES = ['question', 'text', 'all']


def profile_rows(qs, langs, layout):
    if layout == 'long':
        return [{'id': q['id'], 'lang': l, 'text': q[l]} for q in qs for l in langs]
    key = (lambda l: NTREX[l]) if layout == 'wide-ntrex' else (lambda l: l)
    return [{'id': q['id'], **{key(l): q[l] for l in langs}} for q in qs]


def prompt_of(template, question):
    """The prompt string and the character span of the question in it (src/data/templates.ts)."""
    if template == 'plain':
        return question, (0, len(question))
    head = f'{VICUNA_SYSTEM} USER: '
    return f'{head}{question} ASSISTANT:', (len(head), len(head) + len(question))


def scope_masks(enc, span):
    """Masks per scope from the tokenizer's own offsets, independently of the engine's
    common-prefix rule: `all` every token; `text` every token the tokenizer did not add as special
    (BOS); `question` the text tokens whose LAST character lies in the question (a token spanning
    the boundary belongs to the segment where it ends)."""
    special = enc['special_tokens_mask']
    offsets = enc['offset_mapping']
    qs, qe = span
    text = [0 if s else 1 for s in special]
    question = [1 if (t and e > s and qs <= e - 1 < qe) else 0
                for t, (s, e) in zip(text, offsets)]
    return {'question': question, 'text': text, 'all': [1] * len(special)}


def build_profile(name, out_dir):
    # The tokenizer of tokenizer.json as it is: AutoTokenizer would build transformers' own
    # Qwen2Tokenizer for the qwen2 fixture (model_type wins), which is not the tokenizer stored in
    # the checkpoint (all three fixtures carry the stories260K tokenizer) and that the engine uses.
    from transformers import PreTrainedTokenizerFast
    d = os.path.join(out_dir, name)
    tok = PreTrainedTokenizerFast.from_pretrained(d)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation='eager').eval()
    cfg = model.config
    layout = PROFILE_LAYOUT[name]
    tensors, sets = {}, {}
    for set_name, ps in PROFILE_SETS.items():
        langs, template = ps['langs'], ps['template']
        data_file = f'profile-{set_name}.jsonl'
        with open(os.path.join(d, data_file), 'w', encoding='utf-8') as f:
            for row in profile_rows(ps['questions'], langs, layout):
                f.write(json.dumps(row, ensure_ascii=False) + '\n')
        per_lang = {}
        for lang in langs:
            counts = {s: torch.zeros(cfg.num_hidden_layers, cfg.intermediate_size, dtype=torch.int64) for s in SCOPES}
            tokens = {s: 0 for s in SCOPES}
            prompts = []
            for q in ps['questions']:
                text, span = prompt_of(template, q[lang])
                enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
                ids = enc['input_ids']
                assert len(ids) <= cfg.max_position_embeddings, (name, set_name, lang, q['id'], len(ids))
                masks = scope_masks(enc, span)
                m = {s: torch.tensor(masks[s], dtype=torch.bool)[:, None] for s in SCOPES}
                hooks = []
                for i, layer in enumerate(model.model.layers):
                    def hook(mod, inp, out, i=i):
                        fired = out[0] > 0  # [tokens, intermediate]
                        for s in SCOPES:
                            counts[s][i] += (fired & m[s]).sum(dim=0)
                    hooks.append(layer.mlp.gate_proj.register_forward_hook(hook))
                with torch.no_grad():
                    model.model(input_ids=torch.tensor([ids]))  # decoder only: the LM head is not needed
                for h in hooks:
                    h.remove()
                for s in SCOPES:
                    tokens[s] += sum(masks[s])
                prompts.append({'id': q['id'], 'ids': ids, 'masks': masks})
            for s in SCOPES:
                tensors[f'counts.{set_name}.{s}.{lang}'] = counts[s]
            per_lang[lang] = {'tokens': tokens, 'prompts': prompts}
        sets[set_name] = {'template': template, 'langs': langs, 'data': data_file, 'layout': layout,
                          'questions': len(ps['questions']), 'languages': per_lang}
    save_file(tensors, os.path.join(d, 'profile-expected.safetensors'))
    meta = {
        'model': name,
        'generated_by': 'scripts/make_fixtures.py (build_profile)',
        'torch': torch.__version__,
        'transformers': __import__('transformers').__version__,
        'rule': 'counts.<set>.<scope>.<lang>[layer][j] = tokens of the scope with gate_proj(x)_j > 0 '
                '(forward hooks, one prompt per forward pass); question scope = text tokens whose '
                'last character lies in the question (tokenizer offsets)',
        'layers': cfg.num_hidden_layers,
        'intermediate': cfg.intermediate_size,
        'sets': sets,
    }
    text = json.dumps(meta, indent=1, ensure_ascii=False)
    # one line per id/mask list instead of one per number
    text = re.sub(r'\[\s*([-0-9,\s]+?)\s*\]', lambda m: '[' + ','.join(m.group(1).split()).replace(',,', ',') + ']', text)
    with open(os.path.join(d, 'profile-expected.json'), 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    summary = ', '.join(f'{k}: ' + ' '.join(f'{l} {v["languages"][l]["tokens"]["question"]}' for l in v['langs'])
                        for k, v in sets.items())
    print(f'{name}: profile fixture (question tokens {summary}) -> {d}')


def build_profile_masks_mini_ml(out_dir):
    """Token ids and scope masks of both templates under the bundled mini-ml tokenizer (8192
    pieces: its tokens do straddle the template/question boundaries, e.g. "USER: " + "How" ->
    "▁How"), from the offsets as in scope_masks. Tokenizer only: no counts."""
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast.from_pretrained(os.path.join(ROOT, 'assets', 'mini-ml'))
    questions = [q[l] for s in PROFILE_SETS.values() for q in s['questions'] for l in s['langs']]
    questions += ['كم نقطة تخلى عنها دفاع البانثرز؟', ' leading space?', 'trailing space ', 'x',
                  'two  spaces', 'ASSISTANT:', 'USER: hi']
    cases = []
    for q in questions:
        for template in ('plain', 'vicuna'):
            text, span = prompt_of(template, q)
            enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
            cases.append({'template': template, 'question': q, 'ids': enc['input_ids'],
                          'masks': scope_masks(enc, span)})
    d = os.path.join(out_dir, 'mini-ml-ref')
    os.makedirs(d, exist_ok=True)
    meta = {'tokenizer': 'assets/mini-ml', 'generated_by': 'scripts/make_fixtures.py (build_profile_masks_mini_ml)',
            'transformers': __import__('transformers').__version__, 'cases': cases}
    text = json.dumps(meta, indent=1, ensure_ascii=False)
    text = re.sub(r'\[\s*([-0-9,\s]+?)\s*\]', lambda m: '[' + ','.join(m.group(1).split()).replace(',,', ',') + ']', text)
    with open(os.path.join(d, 'profile-masks.json'), 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    print(f'mini-ml-ref: ids and scope masks of {len(cases)} prompts -> {d}/profile-masks.json')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(ROOT, 'test', 'fixtures'))
    ap.add_argument('--only', choices=['all', 'profile', 'vision', 'image', 'hd'], default='all',
                    help='profile: write only the profile fixtures, from the checkpoints already in '
                         '--out; vision: only the LLaVA vision-tower fixtures (llava-vision, '
                         'llava-vision-hub); image: only the LLaVA model with images (llava-image); '
                         'hd: only the head-dim fixtures (qwen2-hd64, mistral-hd128)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.only == 'vision':
        build_vision(args.out)
        return
    if args.only == 'image':
        build_llava_image(args.out)
        build_llava_original(args.out)
        return
    if args.only in ('all', 'hd'):  # first: the builds below reseed torch, so their bytes do not change
        for i, (name, cfg) in enumerate(HD_CONFIGS.items()):
            build(name, cfg, args.out, seed=4000 + i, lengths=HD_LENGTHS, train_layers=HD_TRAIN_LAYERS,
                  long_batch=LONG_BATCH)
        if args.only == 'hd':
            return
    if args.only == 'all':
        for i, (name, cfg) in enumerate(CONFIGS.items()):
            build(name, cfg, args.out, seed=1000 + i)
        build_llava(args.out)
        build_vision(args.out)
        build_llava_image(args.out)
        build_llava_original(args.out)
        build_mini_ml_reference(args.out)
    for name in CONFIGS:
        build_profile(name, args.out)
    build_profile_masks_mini_ml(args.out)


if __name__ == '__main__':
    main()
