// `plast train`.
import { Command, Option } from 'commander';
import { PlastError } from '../errors';
import { parseLanguageList } from '../data/languages';
import { englishCue, templateName } from '../data/templates';
import { jsonlHasImages } from '../data/images';
import { ImageAspect } from '../model/llava';
import { Model } from '../model/model';
import { BackendChoice } from '../native';
import { backendOption, englishCueOption, imageAspectOption, visionLoadOptions, visionTowerOption, languageOption, nameLanguages, floatOption, intOption, modulesOption, numberOption, shown, templateOption } from '../cli/options';
import { DEFAULT_MICRO_TOKENS } from '../model/batching';
import { TRAIN_DEFAULTS } from './defaults';
import { layersFromProfile, parseLayerList, profileFormat } from './layers';
import { loadState, runDirOf } from './state';
import { lockOutput } from '../util/lock';
import { checkOutputDir } from '../util/paths';
import { TrainOptions, TrainResult, train } from './train';
import { onInterrupt } from '../util/interrupt';

// What commander parses: TrainOptions as typed on the command line (lists and the template as
// text, --keep for keepCheckpoints, --no-export giving export), plus the model, a profile to take
// the layers from, --json and --backend. The AdamW betas, eps and clipping keep their defaults.
type TrainCli = Omit<
  TrainOptions,
  'data' | 'layers' | 'template' | 'englishCue' | 'langs' | 'keepCheckpoints' | 'export' | 'beta1' | 'beta2' | 'eps' | 'clip' | 'signal' | 'progress' | 'log' | 'onStep'
> &
  Required<Pick<TrainOptions, 'export'>> & {
    model?: string;
    data?: string[];
    layers?: string;
    profile?: string;
    template?: string;
    englishCue?: string;
    langs?: string;
    language?: string[];
    keep?: number;
    json?: boolean;
    imageAspect?: ImageAspect;
    visionTower?: string;
    backend?: BackendChoice;
  };

/** What `plast train --json` prints (and the server's train method returns). */
export function trainSummary(r: TrainResult) {
  const tokens = r.records.reduce((a, x) => a + x.tokens, 0);
  const secs = r.records.reduce((a, x) => a + x.seconds, 0);
  return {
    status: r.status,
    step: r.step,
    totalSteps: r.totalSteps,
    firstLoss: r.losses[0] ?? null,
    finalLoss: r.losses[r.losses.length - 1] ?? null,
    tokensPerSecond: secs > 0 ? tokens / secs : 0,
    pairs: r.data.examples,
    badRows: r.data.bad,
    checkpoint: r.checkpoint,
    export: r.export ? { dir: r.export.dir, delta: r.export.delta } : null,
    out: r.out,
  };
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('PLAST fine-tuning: train only the selected layers on X->English question-translation pairs (loss on the English target), then export an HF checkpoint')
    .option('--model <dir>', 'HF checkpoint directory (required unless --resume)')
    .option('--data <files...>', 'JSONL: {"lang","source","target"} pairs, or parallel rows with an English column (required unless --resume)')
    .option('--layers <list>', '0-based layers to train, e.g. 0-4 or 0,2,3 (this or --profile is required unless --resume)')
    .option('--profile <dir>', 'train the layers a `plast profile` selected (DIR/profile.json selection.selected)')
    .addOption(shown(modulesOption('tensors of each layer to train: all, attn (+input norm) or mlp (+post-attention norm)'), TRAIN_DEFAULTS.modules))
    .addOption(numberOption('--epochs <n>', 'passes over the data', intOption('--epochs'), TRAIN_DEFAULTS.epochs))
    .addOption(numberOption('--lr <x>', 'peak learning rate (AdamW; linear warmup then cosine to 0)', floatOption('--lr', Number.MIN_VALUE), TRAIN_DEFAULTS.lr))
    .addOption(numberOption('--weight-decay <x>', 'AdamW weight decay; as HF Trainer, biases and norm weights are not decayed', floatOption('--weight-decay', 0, 1), TRAIN_DEFAULTS.weightDecay))
    .addOption(numberOption('--batch <n>', 'effective batch in sequences (gradient accumulation)', intOption('--batch'), TRAIN_DEFAULTS.batch))
    .addOption(numberOption('--micro-batch <n>', 'sequences per forward/backward', intOption('--micro-batch'), { words: 'a token budget, --micro-tokens' }))
    .addOption(numberOption('--micro-tokens <n>', 'padded tokens per forward/backward', intOption('--micro-tokens'), { words: `${DEFAULT_MICRO_TOKENS} unless --micro-batch` }))
    .addOption(numberOption('--max-len <n>', 'longest sequence; longer pairs are reported and skipped', intOption('--max-len'), TRAIN_DEFAULTS.maxLen))
    .addOption(numberOption('--warmup <ratio>', 'warmup steps as a ratio of all steps (HF: ceil(ratio x total))', floatOption('--warmup', 0, 1), TRAIN_DEFAULTS.warmup))
    .addOption(shown(templateOption('--template <name>', 'conversation format: auto (the model\'s chat template, else vicuna for LLaVA/Vicuna, else plain), chat, vicuna or plain'), TRAIN_DEFAULTS.template))
    .addOption(shown(englishCueOption(), TRAIN_DEFAULTS.englishCue))
    .option('--mix-formats', 'train a --profile selection even though the profile was made with another format')
    .addOption(shown(new Option('--langs <list>', 'source languages to use, e.g. ar,tr,ru,pt,zh'), { words: 'all in the data' }))
    .addOption(languageOption())
    .addOption(numberOption('--seed <n>', 'data-order seed', intOption('--seed', 0), TRAIN_DEFAULTS.seed))
    .option('--limit <n>', 'use only the first N pairs', intOption('--limit'))
    .option('--save-every <n>', 'write a checkpoint every N steps (always at the end)', intOption('--save-every'))
    .addOption(numberOption('--keep <n>', 'checkpoints kept on disk', intOption('--keep'), TRAIN_DEFAULTS.keepCheckpoints))
    .option('--resume <dir>', 'continue a run from a checkpoint (or an --out holding checkpoints), bit-identically, with its model, data and settings')
    .option('--stop-after <n>', 'stop after step N with a checkpoint (continue later with --resume)', intOption('--stop-after'))
    .option('--strict', 'reject the data file at the first bad row instead of counting it')
    .option('--no-export', 'skip the HF export + delta at the end')
    .option('--overwrite', 'replace a previous run in --out')
    .option('--json', 'print the summary as JSON')
    .addOption(backendOption())
    .addOption(imageAspectOption())
    .addOption(visionTowerOption())
    .option('--out <dir>', 'output directory (required unless --resume, which continues in the directory of its checkpoint)')
    .action(async (o: TrainCli) => {
      const { model: modelArg, layers: layerList, profile, template, englishCue: cue, langs, language: named, keep, json, backend, imageAspect, visionTower, ...given } = o;
      if (layerList && profile) throw new PlastError('ERR_INVALID', 'give either --layers or --profile, not both', { field: 'layers' });
      const stored = given.resume ? loadState(given.resume).state.config : undefined;
      const modelDir = modelArg ?? stored?.model;
      // In the order of the help: what to train, on what, which layers, where to.
      if (!modelDir) throw new PlastError('ERR_INVALID', 'Expected --model (or --resume)', { field: 'model' });
      if (!stored && !given.data) throw new PlastError('ERR_INVALID', 'Expected --data (or --resume)', { field: 'data' });
      if (!stored && !layerList && !profile) throw new PlastError('ERR_INVALID', 'Expected --layers or --profile (or --resume)', { field: 'layers' });
      if (!stored && !given.out) throw new PlastError('ERR_INVALID', 'Expected --out (or --resume)', { field: 'out' });
      nameLanguages(named, given.data ?? stored?.data);
      const layers = layerList ? parseLayerList(layerList) : profile ? layersFromProfile(profile) : undefined;
      // One writer per run directory (released at exit); a killed run's lock and temp files go.
      const outDir = given.out ?? (given.resume ? runDirOf(given.resume) : undefined);
      if (outDir !== undefined) lockOutput(checkOutputDir(outDir, '--out'), 'train');
      const dataFiles = given.data ?? stored?.data ?? [];
      const model = await Model.load(modelDir, { backend, ...(jsonlHasImages(dataFiles) ? { vision: true, ...visionLoadOptions({ imageAspect, visionTower }) } : {}) });
      const opts: TrainOptions = {
        ...given,
        log: (m) => process.stderr.write(`plast train: ${m}\n`),
        ...(layers ? { layers } : {}),
        ...(template !== undefined ? { template: templateName(template) } : {}),
        ...(cue !== undefined ? { englishCue: englishCue(cue) } : {}),
        ...(profile !== undefined && profileFormat(profile) !== undefined ? { profileFormat: profileFormat(profile)! } : {}),
        ...(langs !== undefined ? { langs: parseLanguageList(langs) } : {}),
        ...(keep !== undefined ? { keepCheckpoints: keep } : {}),
      };
      const interrupt = onInterrupt();
      const r = await train(model, { ...opts, signal: interrupt.signal }).finally(() => interrupt.dispose());
      if (interrupt.signal.aborted) process.exitCode = 130;
      const summary = trainSummary(r);
      if (json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        return;
      }
      const bad = Object.entries(r.data.bad);
      process.stdout.write(
        [
          `${r.status === 'completed' ? 'trained' : 'stopped at'} step ${r.step}/${r.totalSteps} (warmup ${r.warmupSteps}, ${r.stepsPerEpoch} steps/epoch) in ${r.seconds.toFixed(1)} s, ${Math.round(summary.tokensPerSecond)} tok/s`,
          `loss ${summary.firstLoss?.toFixed(4) ?? '-'} -> ${summary.finalLoss?.toFixed(4) ?? '-'} on ${r.data.examples} pairs${bad.length ? `; bad rows skipped: ${bad.map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}`,
          `checkpoint ${r.checkpoint}`,
          r.export ? `export ${r.export.dir} (+ ${r.export.delta})` : `no export${r.status === 'stopped' ? `; continue with: plast train --resume ${r.out}` : ''}`,
          `log ${r.out}/train.jsonl, plot ${r.out}/loss.svg (+ .png), summary ${r.out}/summary.json`,
        ].join('\n') + '\n',
      );
    });
}
