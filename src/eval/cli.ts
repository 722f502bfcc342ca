// `plast eval`: multiple-choice accuracy per language or translation NLL per language.
import { Command, Option } from 'commander';
import { parseLanguageList } from '../data/languages';
import { DEFAULT_TEMPLATE, templateName } from '../data/templates';
import { Model } from '../model/model';
import { writeJsonAtomic } from '../util/atomic';
import { checkOutputFile } from '../util/paths';
import { progress } from '../util/progress';
import { backendOption, intOption, numberOption, shown, templateOption } from '../cli/options';
import { BackendChoice } from '../native';
import { EvalOptions, EvalReport, evaluate, formatReport } from './evaluate';

// What commander parses: EvalOptions as typed on the command line (files as a list, languages
// and the template as text; kind and mode have defaults), plus the model, --out, --json and
// --backend.
type EvalCli = Omit<EvalOptions, 'data' | 'template' | 'langs' | 'onProgress'> &
  Required<Pick<EvalOptions, 'kind' | 'mode'>> & { model: string; data: string[]; template: string; langs?: string; out?: string; json?: boolean; backend?: BackendChoice };

/** What `plast eval --json` prints (and the server's eval method returns): the report without
 * per-item predictions. */
export function evalBrief(report: EvalReport) {
  const { letter, likelihood, ...rest } = report;
  return {
    ...rest,
    ...(letter ? { letter: { perLang: letter.perLang, overall: letter.overall } } : {}),
    ...(likelihood ? { likelihood: { perLang: likelihood.perLang, overall: likelihood.overall } } : {}),
  };
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('multiple-choice accuracy per language (MMBench/MMMB-style TSV or JSONL: option-letter logits and continuation likelihood), or English-target NLL per language on translation pairs')
    .requiredOption('--model <dir>', 'HF checkpoint directory (e.g. a `plast train` export: OUT/model)')
    .requiredOption('--data <files...>', 'MCQ .tsv/.jsonl, or translation pairs / parallel JSONL')
    .addOption(new Option('--kind <kind>', 'what the data is').choices(['auto', 'mcq', 'pairs']).default('auto'))
    .addOption(new Option('--mode <mode>', 'MCQ scoring: option-letter logits, continuation likelihood, or both').choices(['letter', 'likelihood', 'both']).default('both'))
    .addOption(templateOption('--template <name>', 'prompt template').default(DEFAULT_TEMPLATE))
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
    .action(async (o: EvalCli) => {
      const { model: dir, template, langs, out, json, backend, ...given } = o;
      if (out !== undefined) checkOutputFile(out, '--out');
      const model = await Model.load(dir, { backend });
      let bar: ReturnType<typeof progress> | undefined;
      const report = await evaluate(model, {
        ...given,
        template: templateName(template),
        ...(langs ? { langs: parseLanguageList(langs) } : {}),
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
