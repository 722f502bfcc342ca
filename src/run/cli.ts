// `plast run`: profile -> select -> train -> evaluate before/after -> report, in one command.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { BUNDLED_DATA } from '../assets';
import { parseLanguageList } from '../data/languages';
import { parseLayerList } from '../train/layers';
import { backendOption, englishCueOption, imageAspectOption, visionTowerOption, languageOption, nameLanguages, floatOption, helpNumber, intOption, minLayersOption, modulesOption, numberOption, scopeOption, shown, tauOption, templateOption } from '../cli/options';
import { DEFAULT_ENGLISH_CUE } from '../data/templates';
import { DEFAULT_SCOPE } from '../profile/types';
import { DEFAULT_MIN_LAYERS, DEFAULT_PEAK, DEFAULT_TAU, PEAK_RULES } from '../profile/stats';
import { TRAIN_DEFAULTS } from '../train/defaults';
import { DEFAULT_HELDOUT, DEFAULT_LANGS, DEFAULT_RUN_TEMPLATE, DEMO_RUN, PAPER_RUN, RunRecipe } from './defaults';
import { runPlast } from './run';
import { RunOptions } from './types';
import { compareEvals, evalCaveat } from './report';
import { selectionVerdict } from '../profile/report';
import { onInterrupt } from '../util/interrupt';

// What commander parses: RunOptions as typed on the command line (lists as text; the choices have
// defaults), plus --json.
type RunCli = Omit<RunOptions, 'langs' | 'layers' | 'template' | 'scope' | 'modules' | 'progress' | 'log' | 'signal'> &
  Required<Pick<RunOptions, 'template' | 'scope' | 'modules'>> & { langs: string; language?: string[]; layers?: string; json?: boolean };

/** A default that depends on the model: the bundled demo's recipe, or the paper's with --model. */
function demoOrPaper(k: keyof RunRecipe): { words: string } {
  const text = (v: number | undefined): string => (v === undefined ? 'all' : helpNumber(v));
  return { words: `${text(DEMO_RUN[k])} for the bundled demo, ${text(PAPER_RUN[k])} with --model` };
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'the whole method: profile the languages, select the language-specific layers, train only those on translate-into-English pairs, ' +
        'evaluate before and after, write a report. With no --model/--data it runs the bundled mini-ml model and data (minutes on a CPU). ' +
        'Run the same command again to resume.',
    )
    .addOption(shown(new Option('--model <dir>', 'HF checkpoint directory'), { words: 'the bundled mini-ml, with a short demo recipe' }))
    .addOption(shown(new Option('--data <path>', 'parallel JSONL file or directory of them'), { words: 'the bundled NTREX-128 sentences + XQuAD questions' }))
    .addOption(shown(new Option('--profile-data <file>', 'the parallel file the profile reads'), { words: 'from --data, a questions file with every language of --langs if there is one' }))
    .option('--langs <list>', 'languages, English included (ISO 639-1/639-3 or BCP-47 codes)', DEFAULT_LANGS)
    .addOption(languageOption())
    .addOption(backendOption())
    .addOption(imageAspectOption())
    .addOption(visionTowerOption())
    .addOption(templateOption('--template <name>', 'conversation format of profile, training and evaluation: auto (the model\'s chat template, else vicuna for LLaVA/Vicuna, else plain), chat, vicuna or plain').default(DEFAULT_RUN_TEMPLATE))
    .addOption(shown(templateOption('--profile-template <name>', 'another format for the profile (needs --mix-formats)'), { words: '--template' }))
    .option('--mix-formats', 'allow --profile-template to differ from --template')
    .addOption(shown(englishCueOption(), DEFAULT_ENGLISH_CUE))
    .addOption(scopeOption('tokens counted in the profile').default(DEFAULT_SCOPE))
    .addOption(shown(tauOption('activation threshold of the profile'), DEFAULT_TAU))
    .addOption(shown(minLayersOption('select at least n layers'), DEFAULT_MIN_LAYERS))
    .addOption(numberOption('--max-layers <n>', 'select at most n layers', intOption('--max-layers'), { words: 'no limit' }))
    .addOption(shown(new Option('--peak <rule>', 'which maximum of the average overlap ends K: global (the paper) or first (first local maximum)').choices(PEAK_RULES), DEFAULT_PEAK))
    .addOption(numberOption('--profile-limit <n>', 'parallel items (questions or sentences) profiled per language', intOption('--profile-limit'), demoOrPaper('profileLimit')))
    .option('--layers <list>', 'train these layers instead of the selection (ablations), e.g. 0-4')
    .addOption(modulesOption('tensors of the layers trained').default(TRAIN_DEFAULTS.modules))
    .addOption(numberOption('--epochs <n>', 'epochs', intOption('--epochs'), demoOrPaper('epochs')))
    .addOption(numberOption('--lr <x>', 'peak learning rate', floatOption('--lr', 0), demoOrPaper('lr')))
    .addOption(numberOption('--batch <n>', 'sequences per optimizer step', intOption('--batch'), demoOrPaper('batch')))
    .addOption(numberOption('--micro-batch <n>', 'sequences per forward/backward', intOption('--micro-batch'), { words: 'a token budget' }))
    .addOption(numberOption('--max-len <n>', 'longest training sequence', intOption('--max-len'), TRAIN_DEFAULTS.maxLen))
    .addOption(numberOption('--warmup <ratio>', 'warmup share of the steps', floatOption('--warmup', 0, 1), TRAIN_DEFAULTS.warmup))
    .addOption(numberOption('--seed <n>', 'seed of the split and the data order', intOption('--seed', 0), TRAIN_DEFAULTS.seed))
    .addOption(numberOption('--train-limit <n>', 'training pairs used, a seeded sample', intOption('--train-limit'), demoOrPaper('trainLimit')))
    .addOption(numberOption('--eval-per-lang <n>', 'held-out pairs per language scored', intOption('--eval-per-lang'), demoOrPaper('evalPerLang')))
    .addOption(numberOption('--heldout <ratio>', 'share of parallel items held out', floatOption('--heldout', 0, 0.9), DEFAULT_HELDOUT))
    .option('--eval-data <files...>', 'more evaluation files (MMBench-style MCQ TSV/JSONL or pairs), scored before and after')
    .option('--stop-after <n>', 'stop the training after step n with a checkpoint; the same command without it continues', intOption('--stop-after'))
    .option('--out <dir>', 'run directory', 'plast-run')
    .option('--overwrite', 'run again the stages in --out that a changed setting invalidates (the others are kept), or write into an --out that holds no run')
    .option('--json', 'print report.json at the end ({status, step, totalSteps, out} when the training stopped)')
    .action(async (o: RunCli) => {
      const { langs, language: named, layers, json, ...given } = o;
      nameLanguages(named, given.data ?? BUNDLED_DATA);
      const opts: RunOptions = {
        ...given,
        langs: parseLanguageList(langs),
        ...(layers !== undefined ? { layers: parseLayerList(layers) } : {}),
        log: (m) => process.stderr.write(m + '\n'),
      };
      const interrupt = onInterrupt();
      const r = await runPlast({ ...opts, signal: interrupt.signal }).finally(() => interrupt.dispose());
      if (r.status === 'stopped') {
        if (interrupt.signal.aborted) process.exitCode = 130;
        if (json) {
          process.stdout.write(JSON.stringify({ status: r.status, step: r.train.step, totalSteps: r.train.totalSteps, out: r.out }, null, 2) + '\n');
          return;
        }
        const how = interrupt.signal.aborted ? 'run the same command again' : 'run the same command without --stop-after';
        process.stdout.write(`training stopped at step ${r.train.step} of ${r.train.totalSteps}; ${how} to continue\n`);
        return;
      }
      if (json) {
        process.stdout.write(readFileSync(r.report.json, 'utf8') + '\n');
        return;
      }
      const sel = r.profile.selection;
      const p = (s: string): boolean => process.stdout.write(s + '\n');
      p(selectionVerdict(sel));
      p(`selected layers ${sel.selected.join(', ')} (overlap peak at layer ${sel.peakLayer}, θ = ${sel.theta === null ? '-' : sel.theta.toExponential(3)}); trained layers ${r.layers.join(', ')}`);
      p(`training: ${r.train.step} steps, loss ${r.train.firstLoss?.toFixed(4)} -> ${r.train.finalLoss?.toFixed(4)}`);
      const evals = compareEvals(r.evalBefore, r.evalAfter);
      for (const e of evals) {
        p(`${e.metric} (${e.better} is better):`);
        for (const x of e.rows) p(`  ${x.lang.padEnd(5)} ${String(x.n).padStart(5)}  ${x.before.toFixed(4)} -> ${x.after.toFixed(4)}  (${x.delta > 0 ? '+' : ''}${x.delta.toFixed(4)})`);
      }
      const caveat = evalCaveat(r.state.config, evals);
      if (caveat) p(`note: ${caveat}`);
      p(`report: ${r.report.markdown}`);
    });
}
