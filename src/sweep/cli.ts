// `plast sweep` and `plast sweep merge`: the layer-selection ablations (sweep.ts, merge.ts).
import { Command, Option } from 'commander';
import { PlastError } from '../errors';
import { parseLanguageList } from '../data/languages';
import { englishCue, templateName } from '../data/templates';
import { backendOption, englishCueOption, floatOption, imageAspectOption, intOption, numberOption, shown, templateOption, visionTowerOption } from '../cli/options';
import { McqProtocol, PROTOCOLS } from '../eval/evaluate';
import { DEFAULT_MAX_NEW_TOKENS, PROMPTINGS, Prompting } from '../eval/vlmeval';
import { ImageAspect } from '../model/llava';
import { BackendChoice } from '../native';
import { parseShard } from '../profile/profile';
import { TRAIN_DEFAULTS } from '../train/defaults';
import { parseLayerList } from '../train/layers';
import { onInterrupt } from '../util/interrupt';
import { mergeSweeps } from './merge';
import { SweepOptions, sweep } from './sweep';
import { Recipe } from './variant';

interface SweepCli {
  model?: string;
  data?: string[];
  evalData?: string[];
  out?: string;
  k?: string;
  randomSeeds?: string;
  randomSize?: number;
  all: boolean;
  base: boolean;
  profile?: string;
  moduleVariants: boolean;
  epochs?: number;
  lr?: number;
  weightDecay?: number;
  batch?: number;
  microBatch?: number;
  microTokens?: number;
  maxLen?: number;
  warmup?: number;
  template?: string;
  englishCue?: string;
  langs?: string;
  seed?: number;
  limit?: number;
  evalKind?: 'mcq' | 'pairs';
  evalMode?: 'letter' | 'likelihood' | 'both';
  evalLangs?: string;
  evalLimit?: number;
  protocol?: McqProtocol;
  prompting?: Prompting;
  maxNewTokens?: number;
  imageAspect?: ImageAspect;
  visionTower?: string;
  shard?: string;
  saveEvery?: number;
  keepModels?: boolean;
  json?: boolean;
  backend?: BackendChoice;
}

const print = (s: string): void => {
  process.stdout.write(s + '\n');
};

/** "0,1,2" or "0-2" as a sorted list of distinct non-negative integers (`flag` names it in errors). */
function intList(flag: string, spec: string): number[] {
  try {
    return parseLayerList(spec);
  } catch {
    throw new PlastError('ERR_INVALID', `Expected a list such as "1-3" or "0,2,5" for ${flag} but received "${spec}"`, { field: flag.slice(2) });
  }
}

export function registerSweep(program: Command): Command {
  const cmd = program
    .command('sweep')
    .description("the paper's layer ablations (Fig. 5, Table 9): train and evaluate several layer sets with one recipe — the first K layers, random sets, all layers, the PLAST selection and its attention / MLP halves — each in OUT/variants/<name>, resumable ─► sweep.md, results.json, sweep.svg + .png")
    // Not requiredOption: `plast sweep merge` hangs under this command and takes none of them.
    .option('--model <dir>', 'base HF checkpoint directory (required)')
    .option('--data <files...>', 'training data, as for `plast train` (required)')
    .option('--eval-data <files...>', 'held-out evaluation data, as for `plast eval` (MCQ .tsv: VLMEvalKit accuracy, circular for MMBench; MCQ .jsonl: letter accuracy; pairs: NLL) (required)')
    .option('--out <dir>', 'sweep directory; the same command again continues it (required)')
    .option('--k <list>', 'first-K variants: train layers 0..K-1 for each K, e.g. 1-5 or 1,2,4')
    .option('--random-seeds <list>', 'random layer-set variants, one per seed, e.g. 0,1,2')
    .addOption(numberOption('--random-size <n>', 'layers in each random set', intOption('--random-size'), { words: 'the size of the PLAST selection, else the largest K' }))
    .option('--no-all', 'skip the all-layers variant')
    .option('--no-base', 'skip evaluating the untrained base model')
    .option('--profile <dir>', 'a `plast profile` directory: the PLAST selection as a variant, with its attn-only and mlp-only variants')
    .option('--no-module-variants', 'with --profile: skip the attn-only / mlp-only variants')
    .addOption(numberOption('--epochs <n>', 'passes over the data', intOption('--epochs'), TRAIN_DEFAULTS.epochs))
    .addOption(numberOption('--lr <x>', 'peak learning rate', floatOption('--lr', Number.MIN_VALUE), TRAIN_DEFAULTS.lr))
    .addOption(numberOption('--weight-decay <x>', 'AdamW weight decay', floatOption('--weight-decay', 0, 1), TRAIN_DEFAULTS.weightDecay))
    .addOption(numberOption('--batch <n>', 'effective batch in sequences', intOption('--batch'), TRAIN_DEFAULTS.batch))
    .option('--micro-batch <n>', 'sequences per forward/backward', intOption('--micro-batch'))
    .option('--micro-tokens <n>', 'padded tokens per forward/backward', intOption('--micro-tokens'))
    .addOption(numberOption('--max-len <n>', 'longest training sequence', intOption('--max-len'), TRAIN_DEFAULTS.maxLen))
    .addOption(numberOption('--warmup <ratio>', 'warmup ratio', floatOption('--warmup', 0, 1), TRAIN_DEFAULTS.warmup))
    .addOption(shown(templateOption('--template <name>', 'prompt template (training and evaluation; vlmeval: vicuna unless given)'), TRAIN_DEFAULTS.template))
    .addOption(englishCueOption())
    .addOption(shown(new Option('--langs <list>', 'training source languages'), { words: 'all in the data' }))
    .addOption(numberOption('--seed <n>', 'data-order seed', intOption('--seed', 0), TRAIN_DEFAULTS.seed))
    .option('--limit <n>', 'train on the first N pairs', intOption('--limit'))
    .addOption(new Option('--eval-kind <kind>', 'what the evaluation data is').choices(['mcq', 'pairs']))
    .addOption(shown(new Option('--protocol <name>', "MCQ: vlmeval (greedy answers scored as VLMEvalKit scores LLaVA, images through a LLaVA checkpoint's tower) or logits (--eval-mode)").choices(PROTOCOLS), { words: 'vlmeval for .tsv files, else logits' }))
    .addOption(new Option('--eval-mode <mode>', 'MCQ scoring under --protocol logits').choices(['letter', 'likelihood', 'both']))
    .addOption(shown(new Option('--prompting <name>', "vlmeval: the paper's prompting baselines (implicit / explicit translation prompting)").choices(PROMPTINGS), { words: 'none' }))
    .addOption(numberOption('--max-new-tokens <n>', 'vlmeval: greedy generation length', intOption('--max-new-tokens'), DEFAULT_MAX_NEW_TOKENS))
    .addOption(shown(new Option('--eval-langs <list>', 'languages scored'), { words: 'all' }))
    .option('--eval-limit <n>', 'score only the first N items', intOption('--eval-limit'))
    .option('--shard <i/n>', 'run only variants j with j % n == i (0-based i); join the directories with `plast sweep merge`')
    .option('--save-every <n>', 'a training checkpoint every N steps (an interrupted variant resumes from it)', intOption('--save-every'))
    .option('--keep-models', "keep each variant's exported model/ (default: removed once evaluated; delta.safetensors stays)")
    .option('--json', 'print the results as JSON')
    .addOption(backendOption())
    .addOption(imageAspectOption())
    .addOption(visionTowerOption())
    .action(async (o: SweepCli) => {
      for (const [flag, v] of [['--model', o.model], ['--data', o.data], ['--eval-data', o.evalData], ['--out', o.out]] as const) {
        if (v === undefined) throw new PlastError('ERR_INVALID', `Expected ${flag}`, { field: flag.slice(2) });
      }
      const recipe: Recipe = {
        ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
        ...(o.lr !== undefined ? { lr: o.lr } : {}),
        ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
        ...(o.batch !== undefined ? { batch: o.batch } : {}),
        ...(o.microBatch !== undefined ? { microBatch: o.microBatch } : {}),
        ...(o.microTokens !== undefined ? { microTokens: o.microTokens } : {}),
        ...(o.maxLen !== undefined ? { maxLen: o.maxLen } : {}),
        ...(o.warmup !== undefined ? { warmup: o.warmup } : {}),
        ...(o.template !== undefined ? { template: templateName(o.template) } : {}),
        ...(o.englishCue !== undefined ? { englishCue: englishCue(o.englishCue) } : {}),
        ...(o.langs !== undefined ? { langs: parseLanguageList(o.langs) } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
      };
      const opts: SweepOptions = {
        model: o.model!,
        data: o.data!,
        evalData: o.evalData!,
        out: o.out!,
        all: o.all,
        base: o.base,
        modulesVariants: o.moduleVariants,
        recipe,
        ...(o.k !== undefined ? { firstK: intList('--k', o.k) } : {}),
        ...(o.randomSeeds !== undefined ? { randomSeeds: intList('--random-seeds', o.randomSeeds) } : {}),
        ...(o.randomSize !== undefined ? { randomSize: o.randomSize } : {}),
        ...(o.profile !== undefined ? { profile: o.profile } : {}),
        ...(o.evalKind !== undefined ? { evalKind: o.evalKind } : {}),
        ...(o.evalMode !== undefined ? { evalMode: o.evalMode } : {}),
        ...(o.evalLangs !== undefined ? { evalLangs: parseLanguageList(o.evalLangs) } : {}),
        ...(o.evalLimit !== undefined ? { evalLimit: o.evalLimit } : {}),
        ...(o.protocol !== undefined ? { evalProtocol: o.protocol } : {}),
        ...(o.prompting !== undefined ? { evalPrompting: o.prompting } : {}),
        ...(o.maxNewTokens !== undefined ? { evalMaxNewTokens: o.maxNewTokens } : {}),
        ...(o.imageAspect !== undefined ? { imageAspect: o.imageAspect } : {}),
        ...(o.visionTower !== undefined ? { visionTower: o.visionTower } : {}),
        ...(o.shard !== undefined ? { shard: parseShard(o.shard) } : {}),
        ...(o.saveEvery !== undefined ? { saveEvery: o.saveEvery } : {}),
        ...(o.keepModels ? { keepModels: true } : {}),
        ...(o.backend !== undefined ? { backend: o.backend } : {}),
        log: (m) => process.stderr.write(`plast sweep: ${m}\n`),
      };
      const interrupt = onInterrupt();
      const r = await sweep({ ...opts, signal: interrupt.signal }).finally(() => interrupt.dispose());
      if (interrupt.signal.aborted) process.exitCode = 130;
      if (o.json) return print(JSON.stringify({ status: r.status, ran: r.ran, skipped: r.skipped, results: r.results, files: r.table }, null, 2));
      print(`${r.status === 'completed' ? 'finished' : 'stopped'}: ${r.results.length} of ${r.variants.length} variants done (${r.ran.length} now, ${r.skipped.length} before)${r.status === 'stopped' ? '; the same command continues' : ''}`);
      print(`table ${r.table.markdown}, ${r.table.json}${r.table.plot ? `; plot ${r.table.plot.svg} (+ .png)` : ''}`);
    });
  cmd
    .command('merge')
    .description('join sweep directories run with --shard i/n into the directory of one unsharded sweep (table and plot included)')
    .argument('<out>', 'output sweep directory')
    .argument('<inputs...>', 'shard sweep directories')
    .option('--partial', 'merge the finished variants even when some are not')
    .option('--json', 'print the merged results as JSON')
    .action(async (out: string, inputs: string[], o: { partial?: boolean; json?: boolean }) => {
      const r = await mergeSweeps(out, inputs, o.partial ? { partial: true } : {});
      if (o.json) return print(JSON.stringify({ out: r.out, results: r.results, files: r.table }, null, 2));
      print(`merged ${inputs.length} shards into ${out}: ${r.results.length} of ${r.variants.length} variants`);
      print(`table ${r.table.markdown}`);
    });
  return cmd;
}
