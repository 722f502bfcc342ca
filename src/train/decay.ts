// Weight decay as HF Trainer applies it: not to biases and norm weights. Trainer's
// get_decay_parameter_names (transformers 5.18) decays every parameter except those inside an
// nn.LayerNorm and those whose lower-cased name matches one of these patterns (which also cover
// LLaMA's RMSNorm weights: input_layernorm, post_attention_layernorm, model.norm).
//
// The native AdamW step takes one decay for all trainable tensors: it multiplies each master by
// d = fl32(1 − lr·wd) before the Adam update. The exempt tensors are small (vectors), so the decay
// is taken back on them after the step: with p0 the master before and p1 after, the update is
// u = fl32(p0·d) − p1 (the product reproduced bit for bit), and the master becomes p0 − u, i.e.
// no decay, within float32 rounding of the stored p1 (a per-tensor decay in the native step would
// make it exact).
import { ParamPart } from '../native';

export const NO_DECAY_PATTERNS = [/bias/, /layernorm/, /rmsnorm/, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/];

/** True for a tensor HF Trainer does not decay. */
export function decayExempt(name: string): boolean {
  const n = name.toLowerCase();
  return NO_DECAY_PATTERNS.some((p) => p.test(n));
}

interface Masters {
  trainable(): string[];
  read(name: string, part?: ParamPart): Promise<Float32Array>;
  write(name: string, part: ParamPart, values: Float32Array): Promise<void>;
}

/** Runs `step` (the native AdamW with decay `weightDecay` at `lr`) and undoes the decay on the
 * exempt tensors. */
export async function stepWithoutDecayOnExempt(model: Masters, lr: number, weightDecay: number, step: () => Promise<void>): Promise<void> {
  const exempt = weightDecay > 0 ? model.trainable().filter(decayExempt) : [];
  const before: Float32Array[] = [];
  for (const n of exempt) before.push(await model.read(n, 'master'));
  await step();
  const d = Math.fround(1 - lr * weightDecay);
  for (let k = 0; k < exempt.length; k++) {
    const p0 = before[k]!;
    const p1 = await model.read(exempt[k]!, 'master');
    const fixed = new Float32Array(p0.length);
    for (let i = 0; i < p0.length; i++) fixed[i] = p0[i]! - Math.fround(p0[i]! * d) + p1[i]!;
    await model.write(exempt[k]!, 'master', fixed);
  }
}
