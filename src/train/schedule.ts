// The per-step optimizer settings of HF transformers' Trainer: the learning-rate schedule
// (lr_scheduler_type "cosine") and the gradient-clipping factor. The schedule is
// `get_cosine_schedule_with_warmup` (linear warmup from 0, then half a cosine down to 0), with the
// warmup length `ceil(total * warmup_ratio)` as `TrainingArguments.get_warmup_steps` computes it.
// Step indices are 0-based optimizer steps: the k-th update (k = 0, 1, ...) uses lrAt(k). As in
// HF, the very first update therefore runs at lr 0 whenever there is a warmup.

/** Warmup steps for a ratio of the total, exactly as HF does (float product, then ceil). */
export function warmupSteps(ratio: number, totalSteps: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`warmup ratio must be in [0, 1] but is ${ratio}`);
  return Math.ceil(totalSteps * ratio);
}

/** lr for the 0-based update `step`: base * lambda(step), lambda as in HF (num_cycles 0.5). */
export function cosineWithWarmup(step: number, warmup: number, total: number, baseLr: number): number {
  if (step < warmup) return baseLr * (step / Math.max(1, warmup));
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
}

/** The factor the gradients are scaled by before the update, as torch.nn.utils.clip_grad_norm_
 * computes it (max_norm / (total_norm + 1e-6), at most 1); maxNorm 0 turns clipping off. */
export function clipCoefficient(gradNorm: number, maxNorm: number): number {
  return maxNorm > 0 ? Math.min(1, maxNorm / (gradNorm + 1e-6)) : 1;
}
