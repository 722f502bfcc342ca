// The trainable set of a run: every tensor of the selected layers in the chosen modules; all else
// stays frozen (no master, gradient or Adam state).
import { Model } from '../model/model';
import { RunConfig } from './state';

export interface Trainable {
  names: string[];
  /** The base checkpoint's dtype of each (a checkpoint records them). */
  dtypes: Record<string, string>;
  params: number;
}

export async function makeTrainable(model: Model, config: RunConfig, log: (m: string) => void): Promise<Trainable> {
  const names = config.layers.flatMap((l) => model.layerTensorNames(l, config.modules));
  await model.setTrainable(names);
  const dtypes: Record<string, string> = {};
  for (const nm of names) dtypes[nm] = model.checkpoint.tensors.get(nm)!.dtype;
  const params = model.parameterCount(names);
  log(`training ${names.length} tensors of layer(s) ${config.layers.join(',')} (${config.modules}): ${params.toLocaleString('en-US')} of ${model.parameterCount().toLocaleString('en-US')} parameters`);
  return { names, dtypes, params };
}
