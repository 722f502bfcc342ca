// Throughput of the model-level workloads on one backend: the profile forward (all layers
// counted, no LM head) and a PLAST training step (forward + backward of the selected layers).
import { Model } from '../model/model';
import { Sequence } from '../model/batch';

export interface ForwardBenchOptions {
  batch: number;
  seqLen: number;
  iters: number;
  warmup: number;
  /** Layers made trainable for the step benchmark; empty skips it. */
  trainLayers: number[];
  seed?: number;
}

export interface BenchResult {
  name: string;
  tokens: number;
  seconds: number[]; // one per timed iteration
  tokensPerSecond: number; // median
  peakBytes: number;
}

function randomBatch(model: Model, o: ForwardBenchOptions, withLabels: boolean): Sequence[] {
  let s = (o.seed ?? 1) >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0; // mulberry32: deterministic inputs across runs
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const V = model.config.vocabSize;
  return Array.from({ length: o.batch }, () => {
    const ids = Array.from({ length: o.seqLen }, () => 3 + Math.floor(rand() * (V - 3)));
    if (!withLabels) return { ids, count: ids.map(() => 1) };
    const logitAt = ids.map((_, t) => t).slice(0, -1);
    return { ids, logitAt, labels: logitAt.map((t) => ids[t + 1]!) };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeIt(iters: number, warmup: number, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return out;
}

export async function benchForward(model: Model, o: ForwardBenchOptions): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const tokens = o.batch * o.seqLen;
  const fwd = randomBatch(model, o, false);
  const secs = await timeIt(o.iters, o.warmup, async () => {
    await model.forward(fwd);
  });
  results.push({ name: 'profile forward (counts, no LM head)', tokens, seconds: secs, tokensPerSecond: tokens / median(secs), peakBytes: model.memory().peak });
  if (o.trainLayers.length > 0) {
    await model.setTrainable(o.trainLayers.flatMap((l) => model.layerTensorNames(l)));
    const step = randomBatch(model, o, true);
    const labels = step.reduce((a, s) => a + (s.labels?.length ?? 0), 0);
    const secs2 = await timeIt(o.iters, o.warmup, async () => {
      await model.zeroGrad();
      await model.forwardBackward(step, 1 / labels);
      await model.adamw({ lr: 1e-5, step: 1 });
    });
    results.push({
      name: `PLAST step (layers ${o.trainLayers.join(',')} trainable)`,
      tokens,
      seconds: secs2,
      tokensPerSecond: tokens / median(secs2),
      peakBytes: model.memory().peak,
    });
  }
  return results;
}
