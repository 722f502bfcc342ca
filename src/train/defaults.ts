// The training defaults, each defined once: train(), `plast run` and the help of both commands
// read them from here.
import { DEFAULT_ENGLISH_CUE, DEFAULT_TEMPLATE } from '../data/templates';
//
// The paper's recipe (LLaVA-1.5's fine-tuning settings; DESIGN.md "Definitions"): AdamW, a linear
// warmup over a share of the steps then cosine, an effective batch reached by accumulation.
export const PAPER_RECIPE = {
  lr: 2e-5,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  warmup: 0.03,
  batch: 128,
  epochs: 2,
  maxLen: 2048,
} as const;

// The engine's own choices beside it: clip the gradient norm at 1 (HF Trainer's max_grad_norm),
// train every tensor of a selected layer, the model's own conversation format (auto), data order seed 0, keep one
// checkpoint on disk.
export const TRAIN_DEFAULTS = {
  ...PAPER_RECIPE,
  clip: 1,
  modules: 'all',
  template: DEFAULT_TEMPLATE,
  englishCue: DEFAULT_ENGLISH_CUE,
  seed: 0,
  keepCheckpoints: 1,
} as const;
