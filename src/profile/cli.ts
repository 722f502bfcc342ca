// `plast profile`, `plast profile merge` and `plast select`.
import { Command, Option } from 'commander';
import { PlastError } from '../errors';
import { jsonlHasImages } from '../data/images';
import { ImageAspect } from '../model/llava';
import { Model } from '../model/model';
import { parseLanguageList } from '../data/languages';
import { DEFAULT_TEMPLATE } from '../data/templates';
import { backendOption, imageAspectOption, visionLoadOptions, visionTowerOption, intOption, minLayersOption, scopeOption, shown, tauOption, templateOption, languageOption, nameLanguages, floatOption, numberOption } from '../cli/options';
import { BackendChoice } from '../native';
import { mergeProfiles, reselect } from './merge';
import { DEFAULT_BATCH_TOKENS, parseShard, profileLanguages, runProfile, writeProfile } from './profile';
import { DEFAULT_SCOPE, ProfileOptions } from './types';
import { formatProfile } from './report';
import { LAPE_DEFAULTS } from './lape';
import { DEFAULT_MIN_LAYERS, DEFAULT_PEAK, DEFAULT_TAU, PEAK_RULES, PeakRule } from './stats';
import { onInterrupt } from '../util/interrupt';
import { lockOutput } from '../util/lock';
import { checkOutputDir } from '../util/paths';

// What commander parses: ProfileOptions as typed on the command line (languages and the shard as
// text; --max-layers may be "none"; scope, template and batch budget have defaults), plus the
// model, --out, --no-plots, --json and --backend. Model, data, languages and out are checked in
// the action (need).
type ProfileCli = Omit<ProfileOptions, 'data' | 'langs' | 'shard' | 'maxLayers' | 'lape' | 'progress' | 'onBatch' | 'signal'> &
  Required<Pick<ProfileOptions, 'scope' | 'template' | 'batchTokens'>> & {
    model?: string;
    data?: string;
    langs?: string;
    shard?: string;
    language?: string[];
    lapeFilterRate?: number;
    lapeActivationBarRatio?: number;
    lapeTopRate?: number;
    maxLayers?: number;
    backend?: BackendChoice;
    imageAspect?: ImageAspect;
    visionTower?: string;
    out?: string;
    plots: boolean;
    json?: boolean;
  };

function need<T>(v: T | undefined, flag: string): T {
  if (v === undefined) throw new PlastError('ERR_INVALID', `Expected ${flag}`, { field: flag });
  return v;
}

// The selection options; `plast select` and `plast profile merge` keep the saved profile's values
// unless given (`saved`).
const tauOpt = (saved?: string): Option =>
  shown(tauOption("activation threshold: a neuron is in a language's activated set when p = count/tokens > t"), saved ? { words: saved } : DEFAULT_TAU);
const minOpt = (saved?: string): Option => shown(minLayersOption('select at least n layers; 0 allows an empty selection'), saved ? { words: saved } : DEFAULT_MIN_LAYERS);
// "none" lifts a limit that `plast select` would otherwise carry over from the saved profile.
// Parsed to 0 (commander turns a parser's null into ""), then to null by maxLayersOf.
const NO_MAX_LAYERS = 0;
const maxOption = (saved?: string): Option =>
  shown(
    new Option('--max-layers <n>', 'select at most n layers; "none" for no limit').argParser((v: string): number => (v === 'none' ? NO_MAX_LAYERS : intOption('--max-layers', 1)(v))),
    { words: saved ?? 'no limit' },
  );
const peakOpt = (saved?: string): Option =>
  shown(
    new Option('--peak <rule>', 'which maximum of the average overlap ends K: global (over all layers, the paper) or first (the first local maximum, not below any layer within 2)').choices(PEAK_RULES),
    saved ? { words: saved } : DEFAULT_PEAK,
  );
const maxLayersOf = (v: number | undefined): { maxLayers?: number | null } => (v === undefined ? {} : { maxLayers: v === NO_MAX_LAYERS ? null : v });

function print(text: string): void {
  process.stdout.write(text + '\n');
}

/** `plast profile`; returns the command, which `plast profile merge` hangs under. */
export function registerProfile(program: Command): Command {
  return program
    .command('profile')
    .description('count per layer and neuron the tokens on which each SwiGLU gate fires, per language; select the language-specific layers')
    .option('--model <dir>', 'HF checkpoint directory (required)')
    .option('--data <file>', 'JSONL of parallel questions or sentences (a column per language, or {"id","lang","text"} rows) (required)')
    .option('--langs <list>', 'languages, comma-separated (ISO 639-1/639-3 or BCP-47 codes); must include en (required)')
    .addOption(languageOption())
    .addOption(scopeOption('tokens counted: question (only the question), text (template + question, not image tokens), image (the image tokens of rows with an "image"), all (+ BOS and image tokens)').default(DEFAULT_SCOPE))
    .addOption(imageAspectOption())
    .addOption(visionTowerOption())
    .addOption(templateOption('--template <name>', 'conversation format around each question: auto (the model\'s chat template, else vicuna for LLaVA/Vicuna, else plain), chat, vicuna or plain').default(DEFAULT_TEMPLATE))
    .addOption(tauOpt())
    .option('--batch-tokens <n>', 'token budget per batch (rows x longest prompt)', intOption('--batch-tokens'), DEFAULT_BATCH_TOKENS)
    .option('--limit <n>', 'only the first n questions', intOption('--limit'))
    .option('--shard <i/n>', 'profile only questions with index % n == i (0-based i); sum shards with `plast profile merge`')
    .addOption(minOpt())
    .addOption(maxOption())
    .addOption(peakOpt())
    .addOption(numberOption('--lape-filter-rate <r>', "LAPE: quantile of all firing rates a candidate neuron must pass in some language (identify.py's filter_rate)", floatOption('--lape-filter-rate', 0, 1), LAPE_DEFAULTS.filterRate))
    .addOption(numberOption('--lape-activation-bar-ratio <r>', "LAPE: quantile of all firing rates a kept neuron's language must pass (identify.py's activation_bar_ratio)", floatOption('--lape-activation-bar-ratio', 0, 1), { words: '--lape-filter-rate' }))
    .addOption(numberOption('--lape-top-rate <r>', "LAPE: share of all neurons kept by lowest entropy (identify.py's top_rate; its first version had 0.05)", floatOption('--lape-top-rate', 0, 1), LAPE_DEFAULTS.topRate))
    .addOption(backendOption())
    .option('--out <dir>', 'output directory, written atomically (required)')
    .option('--no-plots', 'skip the SVG/PNG plots')
    .option('--json', 'print profile.json instead of the summary')
    .action(async (o: ProfileCli) => {
      const { model: modelArg, data: dataArg, out: outArg, langs: langsArg, language: named, shard: shardArg, maxLayers, backend, plots, json, lapeFilterRate, lapeActivationBarRatio, lapeTopRate, imageAspect, visionTower, ...given } = o;
      const model = need(modelArg, '--model <dir>');
      const data = need(dataArg, '--data <file>');
      const out = checkOutputDir(need(outArg, '--out <dir>'), '--out');
      lockOutput(out, 'profile'); // one writer per --out, released at exit; fails early on a read-only place
      nameLanguages(named, data);
      const langs = profileLanguages(parseLanguageList(need(langsArg, '--langs <list>')));
      const shard = shardArg !== undefined ? parseShard(shardArg) : undefined;
      const t0 = Date.now();
      const m = await Model.load(model, { backend, ...(jsonlHasImages([data]) ? { vision: true, ...visionLoadOptions({ imageAspect, visionTower }) } : {}) });
      const loadSeconds = (Date.now() - t0) / 1000;
      const interrupt = onInterrupt();
      const p = await runProfile(m, {
        signal: interrupt.signal,
        ...given,
        data,
        langs,
        ...(shard ? { shard } : {}),
        ...maxLayersOf(maxLayers),
        lape: {
          ...(lapeFilterRate !== undefined ? { filterRate: lapeFilterRate } : {}),
          ...(lapeActivationBarRatio !== undefined ? { activationBarRatio: lapeActivationBarRatio } : {}),
          ...(lapeTopRate !== undefined ? { topRate: lapeTopRate } : {}),
        },
      }).finally(() => interrupt.dispose());
      p.json.run['loadSeconds'] = loadSeconds;
      await writeProfile(out, p, { plots });
      if (json) return print(JSON.stringify(p.json, null, 2));
      const r = p.json.run as { seconds: number; tokensPerSecond: number; promptTokens: number };
      if (p.json.data.blankLines > 0) print(`note: ${p.json.data.blankLines} blank line(s) in ${data} were skipped`);
      print(`profiled in ${r.seconds.toFixed(1)} s (model load ${loadSeconds.toFixed(1)} s): ${r.promptTokens} prompt tokens at ${Math.round(r.tokensPerSecond)} tok/s`);
      print(formatProfile(p.json));
      print(`wrote ${out}: profile.json, counts.safetensors, lape.json${p.json.files.plots.length ? ', ' + p.json.files.plots.join(', ') : ''}`);
    });
}

export function registerProfileMerge(profile: Command): void {
  profile
    .command('merge')
    .description('sum the counts of shards (--shard i/n runs) into the profile of a single run; recompute statistics and selection')
    .argument('<out>', 'output profile directory')
    .argument('<inputs...>', 'shard profile directories')
    .addOption(tauOpt("the inputs'"))
    .addOption(minOpt("the inputs'"))
    .addOption(maxOption("the inputs'"))
    .addOption(peakOpt("the inputs'"))
    .option('--no-plots', 'skip the SVG/PNG plots')
    .option('--json', 'print the merged profile.json instead of the summary')
    .action(async (out: string, inputs: string[], o: { tau?: number; minLayers?: number; maxLayers?: number; peak?: PeakRule; plots: boolean; json?: boolean }, cmd: Command) => {
      // `profile` has a --json of its own, which takes the flag when it is parsed first.
      const json = o.json === true || cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      checkOutputDir(out, '<out>');
      lockOutput(out, 'profile merge');
      const p = await mergeProfiles(out, inputs, {
        ...(o.tau !== undefined ? { tau: o.tau } : {}),
        ...(o.minLayers !== undefined ? { minLayers: o.minLayers } : {}),
        ...maxLayersOf(o.maxLayers),
        ...(o.peak !== undefined ? { peak: o.peak } : {}),
        plots: o.plots,
      });
      if (json) return print(JSON.stringify(p.json, null, 2));
      print(`merged ${inputs.length} profiles into ${out}`);
      print(formatProfile(p.json));
    });
}

export function registerSelect(program: Command): void {
  program
    .command('select')
    .description('recompute the statistics and layer selection of a profile from its saved counts (no model run) and print the reasoning')
    .requiredOption('--profile <dir>', 'profile directory (from plast profile)')
    .addOption(tauOpt("the profile's"))
    .addOption(minOpt("the profile's"))
    .addOption(maxOption("the profile's"))
    .addOption(peakOpt("the profile's"))
    .option('--out <dir>', 'write the recomputed profile here instead of updating --profile in place')
    .option('--no-plots', 'skip the SVG/PNG plots')
    .option('--json', 'print the selection as JSON')
    .action(async (o: { profile: string; tau?: number; minLayers?: number; maxLayers?: number; peak?: PeakRule; out?: string; plots: boolean; json?: boolean }) => {
      if (o.out !== undefined) checkOutputDir(o.out, '--out');
      lockOutput(o.out ?? o.profile, 'select');
      const p = await reselect(o.profile, {
        ...(o.tau !== undefined ? { tau: o.tau } : {}),
        ...(o.minLayers !== undefined ? { minLayers: o.minLayers } : {}),
        ...maxLayersOf(o.maxLayers),
        ...(o.peak !== undefined ? { peak: o.peak } : {}),
        ...(o.out !== undefined ? { out: o.out } : {}),
        plots: o.plots,
      });
      if (o.json) return print(JSON.stringify(p.json.selection, null, 2));
      print(formatProfile(p.json));
      print(`wrote ${o.out ?? o.profile}`);
    });
}
