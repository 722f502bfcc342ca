// `plast eval`: multiple-choice accuracy per language or translation NLL per language.
import { Command, Option } from 'commander';
import { parseLanguageList } from '../data/languages';
import { templateName } from '../data/templates';
import { Model } from '../model/model';
import { writeJsonAtomic } from '../util/atomic';
import { progress } from '../util/progress';
import { backendOption, intOption } from '../cli/options';
import { EvalKind, McqMode, evaluate, formatReport } from './evaluate';

interface EvalCliOptions {
  model: string;
  data: string[];
  kind: EvalKind | 'auto';
  mode: McqMode;
  template: string;
  langs?: string;
  lang?: string;
  limit?: number;
  strict?: boolean;
  textOnly?: boolean;
  maxLen?: number;
  microTokens?: number;
  out?: string;
  json?: boolean;
  backend?: string;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('multiple-choice accuracy per language (MMBench/MMMB-style TSV or JSONL: option-letter logits and continuation likelihood), or English-target NLL per language on translation pairs')
    .requiredOption('--model <dir>', 'HF checkpoint directory (e.g. a `plast train` export: OUT/model)')
    .requiredOption('--data <files...>', 'MCQ .tsv/.jsonl, or translation pairs / parallel JSONL')
    .addOption(new Option('--kind <kind>', 'what the data is').choices(['auto', 'mcq', 'pairs']).default('auto'))
    .addOption(new Option('--mode <mode>', 'MCQ scoring: option-letter logits, continuation likelihood, or both').choices(['letter', 'likelihood', 'both']).default('both'))
    .option('--template <name>', 'prompt template: plain or vicuna', 'plain')
    .option('--langs <list>', 'languages to score, e.g. ar,tr,ru,pt,zh,en (default all)')
    .option('--lang <code>', 'MCQ: the language of rows without a language column (one file per language, as MMBench ships)')
    .option('--limit <n>', 'score only the first N items', intOption('--limit'))
    .option('--strict', 'reject the file at the first bad row instead of counting it')
    .option('--text-only', 'MCQ: score rows that have an image on their text alone (reported as such)')
    .option('--max-len <n>', 'longest sequence scored (default: the model max positions)', intOption('--max-len'))
    .option('--micro-tokens <n>', 'padded tokens per forward batch', intOption('--micro-tokens'))
    .option('--out <file>', 'write the full report (per-item predictions included) as JSON')
    .option('--json', 'print the report as JSON instead of a table')
    .addOption(backendOption())
    .action(async (o: EvalCliOptions) => {
      const model = await Model.load(o.model, o.backend ? { backend: o.backend as 'auto' } : {});
      let bar: ReturnType<typeof progress> | undefined;
      const report = await evaluate(model, {
        data: o.data,
        kind: o.kind,
        mode: o.mode,
        template: templateName(o.template),
        ...(o.langs ? { langs: parseLanguageList(o.langs) } : {}),
        ...(o.lang ? { lang: o.lang } : {}),
        ...(o.limit ? { limit: o.limit } : {}),
        ...(o.strict ? { strict: true } : {}),
        ...(o.textOnly ? { textOnly: true } : {}),
        ...(o.maxLen ? { maxLen: o.maxLen } : {}),
        ...(o.microTokens ? { microTokens: o.microTokens } : {}),
        onProgress: (done, total) => {
          bar ??= progress({ label: 'eval', total, unit: 'seqs' });
          bar.update(done);
          if (done === total) {
            bar.stop();
            bar = undefined;
          }
        },
      });
      if (o.out) writeJsonAtomic(o.out, report);
      if (o.json) {
        const { letter, likelihood, ...rest } = report;
        const brief = {
          ...rest,
          ...(letter ? { letter: { perLang: letter.perLang, overall: letter.overall } } : {}),
          ...(likelihood ? { likelihood: { perLang: likelihood.perLang, overall: likelihood.overall } } : {}),
        };
        process.stdout.write(JSON.stringify(brief, null, 2) + '\n');
      } else {
        process.stdout.write(formatReport(report));
      }
    });
}
