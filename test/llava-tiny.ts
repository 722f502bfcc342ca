// A tiny LLaVA for end-to-end tests: the bundled multilingual model (assets/mini-ml) as the
// language model, plus a small random CLIP tower and projector (32x32 images in 8x8 patches: 16
// image features) and LLaVA's <image> token added to the tokenizer. The language model's shards
// are linked, not copied; the tower is a shard of its own, listed in the index.
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../src/model/safetensors';
import { ASSETS } from './helpers';

export const TINY_LLAVA = { imageSize: 32, patchSize: 8, features: 16, hidden: 32, inter: 64, layers: 2 };

/** Builds the checkpoint in `dir` (which must exist or be creatable) and returns the image token id. */
export function makeTinyLlava(dir: string, seed = 7): { imageTokenId: number } {
  const src = join(ASSETS, 'mini-ml');
  mkdirSync(dir, { recursive: true });
  const text = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  const textHidden = text['hidden_size'] as number;
  // <image> after the vocabulary, as llava-hf adds it (its embedding row is never looked up).
  const tj = JSON.parse(readFileSync(join(src, 'tokenizer.json'), 'utf8')) as { added_tokens: Record<string, unknown>[] };
  const imageTokenId = text['vocab_size'] as number;
  tj.added_tokens.push({ id: imageTokenId, content: '<image>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tj));
  for (const f of ['tokenizer_config.json', 'special_tokens_map.json', 'LICENSE']) copyFileSync(join(src, f), join(dir, f));
  const v = TINY_LLAVA;
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlavaForConditionalGeneration'],
      model_type: 'llava',
      image_token_index: imageTokenId,
      image_seq_length: v.features,
      projector_hidden_act: 'gelu',
      vision_feature_layer: -2,
      vision_feature_select_strategy: 'default',
      text_config: text,
      vision_config: {
        model_type: 'clip_vision_model', hidden_size: v.hidden, intermediate_size: v.inter, num_hidden_layers: v.layers,
        num_attention_heads: 4, image_size: v.imageSize, patch_size: v.patchSize, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5,
      },
    }),
  );
  writeFileSync(
    join(dir, 'preprocessor_config.json'),
    JSON.stringify({
      image_processor_type: 'CLIPImageProcessor', do_resize: true, size: { shortest_edge: v.imageSize }, resample: 3,
      do_center_crop: true, crop_size: { height: v.imageSize, width: v.imageSize }, do_rescale: true, rescale_factor: 1 / 255,
      do_normalize: true, image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711], do_convert_rgb: true,
    }),
  );
  const index = JSON.parse(readFileSync(join(src, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  for (const shard of new Set(Object.values(index.weight_map))) symlinkSync(join(src, shard), join(dir, shard));

  let state = seed >>> 0;
  const rand = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const tensors: { name: string; dtype: 'F32'; shape: number[]; data: Uint8Array }[] = [];
  const add = (name: string, shape: number[], scale: number, center = 0): void => {
    const a = new Float32Array(shape.reduce((x, d) => x * d, 1));
    for (let i = 0; i < a.length; i++) a[i] = center + scale * rand();
    tensors.push({ name, dtype: 'F32', shape, data: new Uint8Array(a.buffer) });
    index.weight_map[name] = 'vision.safetensors';
  };
  const H = v.hidden;
  const t = 'vision_tower.';
  add(t + 'embeddings.patch_embedding.weight', [H, 3, v.patchSize, v.patchSize], 0.1);
  add(t + 'embeddings.class_embedding', [H], 0.5);
  add(t + 'embeddings.position_embedding.weight', [v.features + 1, H], 0.5);
  add(t + 'pre_layrnorm.weight', [H], 0.2, 1);
  add(t + 'pre_layrnorm.bias', [H], 0.2);
  for (let i = 0; i < v.layers; i++) {
    const p = `${t}encoder.layers.${i}.`;
    for (const n of ['layer_norm1', 'layer_norm2']) {
      add(p + n + '.weight', [H], 0.2, 1);
      add(p + n + '.bias', [H], 0.2);
    }
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      add(`${p}self_attn.${n}.weight`, [H, H], 0.3);
      add(`${p}self_attn.${n}.bias`, [H], 0.2);
    }
    add(p + 'mlp.fc1.weight', [v.inter, H], 0.3);
    add(p + 'mlp.fc1.bias', [v.inter], 0.2);
    add(p + 'mlp.fc2.weight', [H, v.inter], 0.3);
    add(p + 'mlp.fc2.bias', [H], 0.2);
  }
  add('multi_modal_projector.linear_1.weight', [textHidden, H], 0.3);
  add('multi_modal_projector.linear_1.bias', [textHidden], 0.2);
  add('multi_modal_projector.linear_2.weight', [textHidden, textHidden], 0.1);
  add('multi_modal_projector.linear_2.bias', [textHidden], 0.05);
  writeSafetensors(join(dir, 'vision.safetensors'), tensors, { format: 'pt' });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 1));
  return { imageTokenId };
}
