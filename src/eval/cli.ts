// `plast eval`: multiple-choice accuracy per language or translation NLL per language.
import { lockOutput } from '../util/lock';
import { Command, Option } from 'commander';
import { parseLanguageList } from '../data/languages';
import { DEFAULT_TEMPLATE, englishCue, templateName } from '../data/templates';
import { ImageAspect } from '../model/llava';
import { Model } from '../model/model';
import { writeJsonAtomic } from '../util/atomic';
import { checkOutputFile } from '../util/paths';
import { progress } from '../util/progress';
import { backendOption, englishCueOption, languageOption, nameLanguages, imageAspectOption, intOption, numberOption, shown, templateOption, visionLoadOptions, visionTowerOption } from '../cli/options';
import { BackendChoice } from '../native';
import { EvalOptions, EvalReport, PROTOCOLS, evaluate, formatReport } from './evaluate';
import { evalPlan, evalTemplate } from './protocol';
import { DEFAULT_MAX_NEW_TOKENS, PROMPTINGS, visionGenerator } from './vlmeval';

// What commander parses: EvalOptions as typed on the command line (files as a list, languages
// and the template as text; kind and mode have defaults), plus the model, --out, --json and
// --backend.
type EvalCli = Omit<EvalOptions, 'data' | 'template' | 'langs' | 'onProgress' | 'generator' | 'circular' | 'englishCue'> &
  Required<Pick<EvalOptions, 'kind' | 'mode'>> & { model: string; data: string[]; template: string; langs?: string; out?: string; json?: boolean; backend?: BackendChoice; imageAspect?: ImageAspect; visionTower?: string; englishCue?: string; language?: string[] };

/** What `plast eval --json` prints (and the server's eval method returns): the report without
 * per-item predictions. */
export function evalBrief(report: EvalReport) {
  const { letter, likelihood, vlmeval, ...rest } = report;
  return {
    ...rest,
    ...(vlmeval ? { vlmeval: (({ predictions: _p, ...v }) => v)(vlmeval) } : {}),
    ...(letter ? { letter: { perLang: letter.perLang, overall: letter.overall } } : {}),
    ...(likelihood ? { likelihood: { perLang: likelihood.perLang, overall: likelihood.overall } } : {}),
  };
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('multiple-choice accuracy per language (MMBench/MMMB-style TSV or JSONL: generated answers scored as VLMEvalKit does, or option-letter logits and continuation likelihood), or English-target NLL per language on translation pairs')
    .requiredOption('--model <dir>', 'HF checkpoint directory (e.g. a `plast train` export: OUT/model)')
    .requiredOption('--data <files...>', 'MCQ .tsv/.jsonl, or translation pairs / parallel JSONL')
    .addOption(new Option('--kind <kind>', 'what the data is').choices(['auto', 'mcq', 'pairs']).default('auto'))
    .addOption(shown(new Option('--protocol <name>', "MCQ: vlmeval (greedy answers scored as VLMEvalKit scores LLaVA: exact matching, circular for MMBench) or logits (--mode)").choices(PROTOCOLS), { words: 'vlmeval for .tsv files, else logits' }))
    .addOption(new Option('--mode <mode>', 'MCQ scoring: option-letter logits, continuation likelihood, or both').choices(['letter', 'likelihood', 'both']).default('both'))
    .addOption(shown(new Option('--prompting <name>', "vlmeval: the paper's prompting baselines (implicit / explicit translation prompting)").choices(PROMPTINGS), { words: 'none' }))
    .addOption(numberOption('--max-new-tokens <n>', 'vlmeval: greedy generation length', intOption('--max-new-tokens'), DEFAULT_MAX_NEW_TOKENS))
    .addOption(templateOption('--template <name>', 'prompt template (vlmeval: vicuna unless given)').default(DEFAULT_TEMPLATE))
    .addOption(shown(new Option('--langs <list>', 'languages to score, e.g. ar,tr,ru,pt,zh,en'), { words: 'all' }))
    .option('--lang <code>', 'MCQ: the language of rows without a language column (one file per language, as MMBench ships)')
    .option('--limit <n>', 'score only the first N items', intOption('--limit'))
    .option('--strict', 'reject the file at the first bad row instead of counting it')
    .option('--text-only', 'MCQ: score rows that have an image on their text alone (reported as such)')
    .addOption(numberOption('--max-len <n>', 'longest sequence scored', intOption('--max-len'), { words: "the model's max positions" }))
    .option('--micro-tokens <n>', 'padded tokens per forward batch', intOption('--micro-tokens'))
    .option('--out <file>', 'write the full report (per-item predictions included) as JSON')
    .option('--json', 'print the report as JSON instead of a table')
    .addOption(backendOption())
    .addOption(imageAspectOption())
    .addOption(visionTowerOption())
    .addOption(englishCueOption())
    .addOption(languageOption())
    .action(async (o: EvalCli, cmd: Command) => {
      const { model: dir, template, langs, out, json, backend, protocol: asked, mode, imageAspect, visionTower, englishCue: cue, language: named, ...given } = o;
      if (out !== undefined) checkOutputFile(out, '--out');
      // One writer per --out (released at exit); taking it also checks the directory is writable.
      if (out !== undefined) lockOutput(out, 'eval');
      nameLanguages(named, o.data); // before --langs is read
      const fromCli = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
      // The protocol and the vision load, decided as `plast sweep` decides them (./protocol.ts).
      const { protocol, vision } = evalPlan({
        model: dir,
        data: o.data,
        kind: given.kind,
        ...(asked !== undefined ? { protocol: asked } : {}),
        ...(fromCli('mode') ? { mode } : {}),
        ...(given.prompting !== undefined ? { prompting: given.prompting } : {}),
        ...(given.maxNewTokens !== undefined ? { maxNewTokens: given.maxNewTokens } : {}),
        ...(given.textOnly ? { textOnly: true } : {}),
      });
      const model = await Model.load(dir, { backend, ...(vision ? { vision: true, ...visionLoadOptions({ imageAspect, visionTower }) } : {}) });
      const tmpl = evalTemplate(protocol, fromCli('template') ? templateName(template) : undefined, () => templateName(template));
      let bar: ReturnType<typeof progress> | undefined;
      const report = await evaluate(model, {
        ...given,
        ...(protocol === 'vlmeval' ? { protocol, ...(vision ? { generator: visionGenerator(model) } : {}) } : { mode }),
        ...(tmpl !== undefined ? { template: tmpl } : {}),
        ...(langs ? { langs: parseLanguageList(langs) } : {}),
        ...(cue !== undefined ? { englishCue: englishCue(cue) } : {}),
        onProgress: (done, total) => {
          bar ??= progress({ label: 'eval', total, unit: 'seqs' });
          bar.update(done);
          if (done === total) {
            bar.stop();
            bar = undefined;
          }
        },
      });
      if (out) writeJsonAtomic(out, report);
      if (json) {
        const brief = evalBrief(report);
        process.stdout.write(JSON.stringify(brief, null, 2) + '\n');
      } else {
        process.stdout.write(formatReport(report));
      }
    });
}
