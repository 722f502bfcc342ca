// `plast bench`: model-level throughput on the chosen backend (tokens/s, peak memory).
import { Command } from 'commander';
import { join } from 'node:path';
import { Model } from '../model/model';
import { intOption } from '../cli/common';
import { backendOption } from '../cli/core';
import { benchForward } from './forward';

const BUNDLED = join(__dirname, '..', '..', '..', 'assets', 'mini-ml');

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('throughput of the profile forward and a PLAST training step on a model (default: the bundled mini-ml)')
    .option('--model <dir>', 'HF checkpoint directory', BUNDLED)
    .option('--batch <n>', 'sequences per batch', intOption('--batch'), 8)
    .option('--seq-len <n>', 'tokens per sequence', intOption('--seq-len'), 128)
    .option('--iters <n>', 'timed iterations', intOption('--iters'), 5)
    .option('--warmup <n>', 'untimed iterations first', intOption('--warmup', 0), 1)
    .option('--train-layers <list>', 'layers trainable in the step benchmark ("" to skip)', '0,1')
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .action(async (o: { model: string; batch: number; seqLen: number; iters: number; warmup: number; trainLayers: string; json?: boolean; backend?: string }) => {
      const model = await Model.load(o.model, o.backend ? { backend: o.backend as 'auto' } : {});
      const trainLayers = o.trainLayers.split(',').filter(Boolean).map((s) => intOption('--train-layers', 0)(s.trim()));
      const results = await benchForward(model, { batch: o.batch, seqLen: o.seqLen, iters: o.iters, warmup: o.warmup, trainLayers });
      if (o.json) {
        process.stdout.write(JSON.stringify({ model: o.model, backend: model.backend, batch: o.batch, seqLen: o.seqLen, results }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`model ${o.model} on ${model.backend}, ${o.batch} x ${o.seqLen} tokens, median of ${o.iters}\n`);
      for (const r of results) {
        process.stdout.write(`  ${r.name.padEnd(44)} ${r.tokensPerSecond.toFixed(0).padStart(9)} tok/s   peak ${(r.peakBytes / 2 ** 20).toFixed(0)} MiB\n`);
      }
    });
}
