// `plast run`: profile -> select -> train -> evaluate before/after -> report, in one command.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parseLanguageList } from '../data/languages';
import { parseLayerList } from '../train/layers';
import { backendOption, floatOption, helpNumber, intOption, minLayersOption, modulesOption, scopeOption, tauOption, templateOption } from '../cli/options';
import { DEFAULT_TEMPLATE } from '../data/templates';
import { DEFAULT_SCOPE } from '../profile/types';
import { TRAIN_DEFAULTS } from '../train/defaults';
import { DEFAULT_HELDOUT, DEFAULT_LANGS, DEFAULT_RUN_TEMPLATE, DEMO_RUN, PAPER_RUN } from './defaults';
import { runPlast } from './run';
import { RunOptions } from './types';
import { compareEvals } from './report';
import { onInterrupt } from '../util/interrupt';

// What commander parses: RunOptions as typed on the command line (lists as text; the choices have
// defaults), plus --json.
type RunCli = Omit<RunOptions, 'langs' | 'layers' | 'template' | 'profileTemplate' | 'scope' | 'modules' | 'progress' | 'log' | 'signal'> &
  Required<Pick<RunOptions, 'template' | 'profileTemplate' | 'scope' | 'modules'>> & { langs: string; layers?: string; json?: boolean };

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'the whole method: profile the languages, select the language-specific layers, train only those on translate-into-English pairs, ' +
        'evaluate before and after, write a report. With no --model/--data it runs the bundled mini-ml model and data (minutes on a CPU). ' +
        'Run the same command again to resume.',
    )
    .option('--model <dir>', 'HF checkpoint directory (default: bundled mini-ml, with a short demo recipe)')
    .option('--data <path>', 'parallel JSONL file or directory of them (default: bundled NTREX-128 + XQuAD questions)')
    .option('--profile-data <file>', 'the parallel file the profile reads (default: from --data, a questions file with every language of --langs if there is one)')
    .option('--langs <list>', 'languages, English included', DEFAULT_LANGS)
    .addOption(backendOption())
    .addOption(templateOption('--template <name>', 'prompt wrapper for training and evaluation').default(DEFAULT_RUN_TEMPLATE))
    .addOption(templateOption('--profile-template <name>', 'prompt wrapper of the profile').default(DEFAULT_TEMPLATE))
    .addOption(scopeOption('tokens counted in the profile').default(DEFAULT_SCOPE))
    .addOption(tauOption('activation threshold of the profile'))
    .addOption(minLayersOption('select at least n layers'))
    .option('--max-layers <n>', 'select at most n layers', intOption('--max-layers'))
    .option('--profile-limit <n>', `parallel items (questions or sentences) profiled per language (demo ${DEMO_RUN.profileLimit}; else all)`, intOption('--profile-limit'))
    .option('--layers <list>', 'train these layers instead of the selection (ablations), e.g. 0-4')
    .addOption(modulesOption('tensors of the layers trained').default(TRAIN_DEFAULTS.modules))
    .option('--epochs <n>', `epochs (demo ${DEMO_RUN.epochs}; else ${PAPER_RUN.epochs})`, intOption('--epochs'))
    .option('--lr <x>', `peak learning rate (demo ${helpNumber(DEMO_RUN.lr)}; else ${helpNumber(PAPER_RUN.lr)})`, floatOption('--lr', 0))
    .option('--batch <n>', `sequences per optimizer step (demo ${DEMO_RUN.batch}; else ${PAPER_RUN.batch})`, intOption('--batch'))
    .option('--micro-batch <n>', 'sequences per forward/backward (default: a token budget)', intOption('--micro-batch'))
    .option('--max-len <n>', 'longest training sequence', intOption('--max-len'))
    .option('--warmup <ratio>', 'warmup share of the steps', floatOption('--warmup', 0, 1))
    .option('--seed <n>', 'seed of the split and the data order', intOption('--seed', 0))
    .option('--train-limit <n>', `training pairs used, a seeded sample (demo ${DEMO_RUN.trainLimit}; else all)`, intOption('--train-limit'))
    .option('--eval-per-lang <n>', `held-out pairs per language scored (demo ${DEMO_RUN.evalPerLang}; else ${PAPER_RUN.evalPerLang})`, intOption('--eval-per-lang'))
    .option('--heldout <ratio>', `share of parallel items held out (default ${DEFAULT_HELDOUT})`, floatOption('--heldout', 0, 0.9))
    .option('--eval-data <files...>', 'more evaluation files (MMBench-style MCQ TSV/JSONL or pairs), scored before and after')
    .option('--stop-after <n>', 'stop the training after step n with a checkpoint; the same command without it continues', intOption('--stop-after'))
    .option('--out <dir>', 'run directory', 'plast-run')
    .option('--overwrite', 'run again the stages in --out that a changed setting invalidates (the others are kept), or write into an --out that holds no run')
    .option('--json', 'print report.json at the end')
    .action(async (o: RunCli) => {
      const { langs, layers, json, ...given } = o;
      const opts: RunOptions = {
        ...given,
        langs: parseLanguageList(langs),
        ...(layers !== undefined ? { layers: parseLayerList(layers) } : {}),
        log: (m) => process.stderr.write(m + '\n'),
      };
      const interrupt = onInterrupt();
      let r: Awaited<ReturnType<typeof runPlast>>;
      try {
        r = await runPlast({ ...opts, signal: interrupt.signal });
      } finally {
        interrupt.dispose();
      }
      if (r.status === 'stopped') {
        const how = interrupt.signal.aborted ? 'run the same command again' : 'run the same command without --stop-after';
        process.stdout.write(`training stopped at step ${r.train.step} of ${r.train.totalSteps}; ${how} to continue\n`);
        if (interrupt.signal.aborted) process.exitCode = 130;
        return;
      }
      if (json) {
        process.stdout.write(readFileSync(r.report.json, 'utf8') + '\n');
        return;
      }
      const sel = r.profile.selection;
      const p = (s: string): boolean => process.stdout.write(s + '\n');
      p(`selected layers ${sel.selected.join(', ')} (overlap peak at layer ${sel.peakLayer}, θ = ${sel.theta === null ? '-' : sel.theta.toExponential(3)}); trained layers ${r.layers.join(', ')}`);
      p(`training: ${r.train.step} steps, loss ${r.train.firstLoss?.toFixed(4)} -> ${r.train.finalLoss?.toFixed(4)}`);
      for (const e of compareEvals(r.evalBefore, r.evalAfter)) {
        p(`${e.metric} (${e.better} is better):`);
        for (const x of e.rows) p(`  ${x.lang.padEnd(5)} ${String(x.n).padStart(5)}  ${x.before.toFixed(4)} -> ${x.after.toFixed(4)}  (${x.delta > 0 ? '+' : ''}${x.delta.toFixed(4)})`);
      }
      p(`report: ${r.report.markdown}`);
    });
}
