// What a run checks before it writes anything under --out: the backend, the model directory
// (config, weight headers, tokenizer), the data files, the layers and every option of the
// recipe. A run that cannot work fails at once and leaves --out as it was, instead of failing
// after minutes of split, profile and evaluation with its output half written. (The CLI's parsers
// check the values typed on the command line; a library caller's are checked here.)
import { existsSync, statSync } from 'node:fs';
import { PlastError, expectPositiveInt, invalid } from '../errors';
import { openCheckpoint } from '../model/checkpoint';
import { TextTokenizer } from '../model/tokenizer';
import { BackendName, resolveBackend } from '../native';
import { checkSelectOptions } from '../profile/stats';
import { checkLayers, resolveRecipe } from '../train/options';
import { fileLanguages } from './data';
import { RunConfig, RunOptions } from './types';

function checkFile(file: string, what: string): void {
  if (!existsSync(file)) throw new PlastError('ERR_IO', `${file}: no such file (${what})`, { file });
  if (!statSync(file).isFile()) throw new PlastError('ERR_IO', `${file}: not a file (${what})`, { file });
}

/** Checks the run before it starts; returns the backend its models will run on. */
export function checkRun(c: RunConfig, o: Pick<RunOptions, 'stopAfter'>): BackendName {
  const backend = resolveBackend(c.backend);
  const ckpt = openCheckpoint(c.model);
  TextTokenizer.load(c.model);
  const L = ckpt.config.numLayers;
  if (c.layers !== null) checkLayers(c.layers, L);
  resolveRecipe({ modules: c.modules, epochs: c.epochs, lr: c.lr, batch: c.batch, maxLen: c.maxLen, warmup: c.warmup, template: c.template, seed: c.seed, ...(c.microBatch !== null ? { microBatch: c.microBatch } : {}) });
  checkSelectOptions({ ...(c.tau !== null ? { tau: c.tau } : {}), ...(c.minLayers !== null ? { minLayers: c.minLayers } : {}), maxLayers: c.maxLayers, ...(c.peak ? { peak: c.peak } : {}) }, L);
  for (const [k, v] of [['profileLimit', c.profileLimit], ['trainLimit', c.trainLimit], ['evalPerLang', c.evalPerLang]] as const) if (v !== null) expectPositiveInt(k, v);
  if (o.stopAfter !== undefined) expectPositiveInt('stopAfter', o.stopAfter);
  if (!(c.heldout > 0 && c.heldout < 1)) throw invalid('heldout', 'a share in (0, 1)', c.heldout);
  checkFile(c.profileData, 'the parallel questions to profile');
  const has = fileLanguages(c.profileData);
  const lacks = c.langs.filter((l) => !has.has(l));
  if (lacks.length > 0) {
    throw new PlastError('ERR_LANG', `${c.profileData}: the profile needs every language of --langs, but the file lacks ${lacks.join(', ')}`, { file: c.profileData, field: 'langs' });
  }
  for (const f of c.evalData) checkFile(f, '--eval-data');
  return backend;
}
