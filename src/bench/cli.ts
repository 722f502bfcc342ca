// `plast bench`: model-level throughput on the chosen backend (tokens/s, peak memory), or with
// --op the CUDA kernel variants of one op, each checked against the CPU reference, then timed.
import { Command, Option } from 'commander';
import { BUNDLED_MODEL } from '../assets';
import { PlastError } from '../errors';
import { Model } from '../model/model';
import { BackendChoice } from '../native';
import { backendOption, intListOption, intOption } from '../cli/options';
import { ForwardBenchOptions, benchForward } from './forward';
import { BENCH_OPS, KERNEL_OP, OP_DESCRIPTION, ROW_HEADER, benchKernelVariants, formatRow, parseBenchOp, requireCudaDevice, resolveVariants } from './ops';

// What commander parses: the forward benchmark's sizes (ForwardBenchOptions),
// the model, and the kernel benchmark's --op, --variants, --quick and --no-full-check.
type BenchOpts = Omit<ForwardBenchOptions, 'seed'> & {
  model: string;
  json?: boolean;
  backend?: BackendChoice;
  op?: string;
  variants?: string;
  quick?: boolean;
  fullCheck: boolean;
};

async function kernelBench(o: BenchOpts, itersGiven: boolean): Promise<void> {
  const op = parseBenchOp(o.op!);
  const device = requireCudaDevice();
  const variants = resolveVariants(op, (o.variants ?? 'all').split(',').map((s) => s.trim()).filter(Boolean));
  const out = (s: string): void => {
    if (!o.json) process.stdout.write(s + '\n');
  };
  out(`plast bench --op ${op} on ${device}${o.quick ? ' (quick shapes)' : ''}`);
  out(`  ${OP_DESCRIPTION[op]}; kernel op ${KERNEL_OP[op]}, ${variants.length} variant(s):`);
  for (const v of variants) out(`    ${v.name.padEnd(16)} ${v.archs.padEnd(7)} ${v.note}`);
  out('  each variant is checked against the CPU reference first; one that fails is reported and not timed');
  out(ROW_HEADER);
  const rows = await benchKernelVariants(op, variants, {
    quick: o.quick === true,
    fullCheck: o.fullCheck,
    ...(itersGiven ? { iters: o.iters } : {}),
    onRow: (r) => out(formatRow(r)),
  });
  const failed = rows.filter((r) => r.checked && !r.ok);
  if (o.json) {
    process.stdout.write(JSON.stringify({ op, kernelOp: KERNEL_OP[op], device, quick: o.quick === true, rows }, null, 2) + '\n');
  } else {
    const timed = rows.filter((r) => r.timed && r.bench === rows[0]?.bench);
    const best = timed.sort((a, b) => a.ms - b.ms)[0];
    out(`${rows.length} rows, ${failed.length} failed check(s)${best ? `; fastest ${best.variant}: ${best.ms.toFixed(3)} ms, ${best.tflops.toFixed(1)} TFLOP/s` : ''}`);
  }
  if (failed.length > 0) process.exitCode = 1;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(
      'throughput of the profile forward and a PLAST training step on a model (default: the bundled mini-ml); ' +
        `with --op ${BENCH_OPS.join('|')}: the CUDA kernel variants of that op, checked against the CPU reference, then timed`,
    )
    .option('--model <dir>', 'HF checkpoint directory', BUNDLED_MODEL)
    .option('--batch <n>', 'sequences per batch', intOption('--batch'), 8)
    .option('--seq-len <n>', 'tokens per sequence', intOption('--seq-len'), 128)
    .option('--iters <n>', 'timed iterations (with --op: timed repeats, default per op)', intOption('--iters'), 5)
    .option('--warmup <n>', 'untimed iterations first', intOption('--warmup', 0), 1)
    .addOption(new Option('--train-layers <list>', 'layers trainable in the step benchmark ("" to skip)').argParser(intListOption('--train-layers', 0)).default([0, 1], '"0,1"'))
    .option('--op <name>', `kernel benchmark on CUDA: ${BENCH_OPS.join(', ')}`)
    .option('--variants <list>', 'with --op: "all" or comma-separated variant names', 'all')
    .option('--quick', 'with --op: smaller benchmark shapes')
    .option('--no-full-check', 'with --op: skip the full-shape spot check of the default variant')
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .action(async (o: BenchOpts, cmd: Command) => {
      const itersGiven = cmd.getOptionValueSource('iters') === 'cli';
      if (o.op !== undefined) return kernelBench(o, itersGiven);
      if (cmd.getOptionValueSource('variants') === 'cli' || o.quick) {
        throw new PlastError('ERR_INVALID', 'Expected --op with --variants/--quick (they select kernel benchmarks)', { field: 'op' });
      }
      const model = await Model.load(o.model, { backend: o.backend });
      const results = await benchForward(model, { batch: o.batch, seqLen: o.seqLen, iters: o.iters, warmup: o.warmup, trainLayers: o.trainLayers });
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
