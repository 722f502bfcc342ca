// The defaults of `plast run`, each defined once: resolveRunConfig and the help of `plast run`
// read them from here.
import { DEFAULT_TEMPLATE, TemplateChoice } from '../data/templates';
import { PAPER_RECIPE } from '../train/defaults';

export const DEFAULT_LANGS = 'en,ar,tr,ru,pt,zh';

/** Share of parallel items held out for the before/after evaluation. */
export const DEFAULT_HELDOUT = 0.1;

/** Profile, training and evaluation use one format: the model's own (auto). */
export const DEFAULT_RUN_TEMPLATE: TemplateChoice = DEFAULT_TEMPLATE;

/** The recipe a run uses by model: the paper's for a model given with --model; a smaller, faster
 * one for the bundled demo model, where the paper's learning rate over a few dozen steps would
 * not move the loss measurably. */
export interface RunRecipe {
  epochs: number;
  lr: number;
  batch: number;
  profileLimit: number | undefined;
  trainLimit: number | undefined;
  evalPerLang: number;
}
export const PAPER_RUN: RunRecipe = { epochs: PAPER_RECIPE.epochs, lr: PAPER_RECIPE.lr, batch: PAPER_RECIPE.batch, profileLimit: undefined, trainLimit: undefined, evalPerLang: 200 };
export const DEMO_RUN: RunRecipe = { epochs: 1, lr: 5e-4, batch: 16, profileLimit: 200, trainLimit: 480, evalPerLang: 40 };
