// `plast lens`: the paper's Fig. 1 logit lens on parallel prompts (lens.ts, data.ts).
import { Command, Option } from 'commander';
import { parseLanguageList } from '../data/languages';
import { Model } from '../model/model';
import { BackendChoice } from '../native';
import { backendOption, intOption, numberOption, shown } from '../cli/options';
import { lockOutput } from '../util/lock';
import { checkOutputDir } from '../util/paths';
import { LENS_TASKS, LensTask } from './data';
import { LensPositions, lens } from './lens';
import { writeLensReport } from './report';

interface LensCli {
  model: string;
  data: string;
  langs?: string;
  task?: LensTask;
  positions: LensPositions;
  topK?: number;
  limit?: number;
  batch?: number;
  out: string;
  json?: boolean;
  backend?: BackendChoice;
}

export function registerLens(program: Command): void {
  program
    .command('lens')
    .description("the logit lens (the paper's Fig. 1): the final norm and LM head on every layer's hidden state at the last prompt token; per layer and language, the probability and rank of the English vs the source-language next token, the entropy and the top tokens ─► lens.md, lens.json, lens.svg + .png")
    .requiredOption('--model <dir>', 'HF checkpoint directory')
    .requiredOption('--data <file>', 'parallel JSONL as for `plast profile` (translation prompts, --task), or rows {"lang","prompt","en","src"}')
    .addOption(shown(new Option('--langs <list>', 'parallel data: the languages besides English, e.g. ar,tr,ru,zh; prompt rows: a filter'), { words: 'prompt rows: all' }))
    .addOption(shown(new Option('--task <name>', 'parallel data: to-en ("X: <text>\\nEnglish:", the answer in English) or from-en ("English: <text>\\nX:", the answer in X)').choices(LENS_TASKS), 'to-en'))
    .addOption(new Option('--positions <which>', 'lens positions of each prompt: its last token, or every token (a Fig. 1 grid of top tokens in lens.md)').choices(['last', 'all']).default('last'))
    .addOption(numberOption('--top-k <n>', 'top tokens kept per layer and position', intOption('--top-k', 0), 5))
    .option('--limit <n>', 'the first N questions (parallel) or prompts', intOption('--limit'))
    .addOption(numberOption('--batch <n>', 'prompts per forward pass', intOption('--batch'), 8))
    .requiredOption('--out <dir>', 'output directory')
    .option('--json', 'print the per-language summary as JSON')
    .addOption(backendOption())
    .action(async (o: LensCli) => {
      const out = checkOutputDir(o.out, '--out');
      lockOutput(out, 'lens'); // one writer per --out, released at exit; fails early on a read-only place
      const model = await Model.load(o.model, { backend: o.backend });
      try {
        const r = await lens(model, {
          data: o.data,
          positions: o.positions,
          ...(o.langs ? { langs: parseLanguageList(o.langs) } : {}),
          ...(o.task ? { task: o.task } : {}),
          ...(o.topK !== undefined ? { topK: o.topK } : {}),
          ...(o.limit !== undefined ? { limit: o.limit } : {}),
          ...(o.batch !== undefined ? { batch: o.batch } : {}),
        });
        const files = await writeLensReport(out, r);
        if (o.json) {
          process.stdout.write(JSON.stringify({ model: r.model, data: r.data, task: r.task, layers: r.layers, summary: r.summary, files }, null, 2) + '\n');
          return;
        }
        const lines = [`logit lens: ${r.items.length} prompts, ${r.numLayers} layers, ${r.seconds.toFixed(1)} s`, `${'lang'.padEnd(6)}${'layer'.padStart(6)}${'p(en)'.padStart(8)}${'rank'.padStart(7)}${'p(src)'.padStart(8)}${'rank'.padStart(7)}  top`];
        for (const lang of r.langs) {
          for (const s of r.summary[lang]!) {
            lines.push(`${lang.padEnd(6)}${(s.layer === 0 ? 'emb' : String(s.layer)).padStart(6)}${s.pEn.toFixed(3).padStart(8)}${String(s.rankEn).padStart(7)}${s.pSrc.toFixed(3).padStart(8)}${String(s.rankSrc).padStart(7)}  ${JSON.stringify(s.top.token)}`);
          }
        }
        lines.push(`report ${files.markdown}, ${files.json}; heatmap ${files.svg} (+ .png)`);
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        model.dispose();
      }
    });
}
