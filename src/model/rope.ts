// RoPE inverse frequencies as HF transformers computes them (float32 at every step), for the
// rope types the engine supports: default, linear and llama3.
import { PlastError } from '../errors';

export interface RopeSpec {
  type: 'default' | 'linear' | 'llama3';
  theta: number;
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositions?: number;
}

const f = Math.fround;

export function ropeInvFreq(spec: RopeSpec, headDim: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const expo = f((2 * i) / headDim);
    inv[i] = f(1 / f(Math.pow(spec.theta, expo)));
  }
  if (spec.type === 'default') return inv;
  const factor = spec.factor ?? 1;
  if (spec.type === 'linear') return inv.map((v) => f(v / factor));
  // llama3: long wavelengths scaled down by `factor`, short ones kept, a smooth blend between.
  const low = spec.lowFreqFactor ?? 1;
  const high = spec.highFreqFactor ?? 4;
  const old = spec.originalMaxPositions ?? 8192;
  if (high === low) throw new PlastError('ERR_FORMAT', 'rope_scaling llama3: high_freq_factor must differ from low_freq_factor', { field: 'rope_scaling' });
  const lowWavelen = old / low;
  const highWavelen = old / high;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const v = inv[i]!;
    const wavelen = f((2 * Math.PI) / v);
    let r = wavelen > lowWavelen ? f(v / factor) : v;
    const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
    if (medium) {
      const smooth = f((f(old / wavelen) - low) / (high - low));
      r = f(f(f(1 - smooth) * f(r / factor)) + f(smooth * r));
    }
    out[i] = r;
  }
  return out;
}
