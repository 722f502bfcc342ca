// `plast generate`: greedy decoding from a prompt.
import { Command, Option } from 'commander';
import { generateGreedy } from '../model/generate';
import { Model } from '../model/model';
import { BackendChoice } from '../native';
import { backendOption, imageAspectOption, intListOption, intOption, shown, templateOption, visionLoadOptions, visionTowerOption } from './options';
import { resolveFormat, templateName, userPromptIds } from '../data/templates';
import { ImageAspect } from '../model/llava';

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('greedy decoding from a prompt (BOS only when no prompt is given)')
    .requiredOption('--model <dir>', 'HF checkpoint directory')
    .option('--prompt <text>', 'prompt text', '')
    .addOption(templateOption('--template <name>', "plain: the prompt as given; auto, chat or vicuna: the prompt as the user's turn of the model's conversation format (auto: its chat template, else vicuna for LLaVA/Vicuna, else plain), ending where the model answers").default('plain'))
    .option('--max-new-tokens <n>', 'tokens to generate', intOption('--max-new-tokens'), 64)
    .addOption(shown(new Option('--stop <ids>', 'comma-separated token ids that end generation').argParser(intListOption('--stop', 0)), { words: 'EOS' }))
    .option('--image <files...>', 'images for the prompt\'s <image> placeholders, in order (a LLaVA checkpoint; e.g. --prompt "USER: <image>\\nWhat is this? ASSISTANT:")')
    .addOption(imageAspectOption())
    .addOption(visionTowerOption())
    .option('--json', 'print {"ids": [...], "text": "..."} (ids: the generated token ids)')
    .addOption(backendOption())
    .action(async (opts: { model: string; prompt: string; maxNewTokens: number; stop?: number[]; json?: boolean; backend?: BackendChoice; image?: string[]; imageAspect?: ImageAspect; visionTower?: string; template: string }) => {
      const images = opts.image ?? [];
      const model = await Model.load(opts.model, { backend: opts.backend, ...(images.length > 0 ? { vision: true, ...visionLoadOptions(opts) } : {}) });
      const tok = model.tokenizer;
      const format = resolveFormat(templateName(opts.template), model);
      let prompt =
        opts.prompt === '' && format.name === 'plain'
          ? tok.bosId !== undefined
            ? [tok.bosId]
            : tok.encode('')
          : format.name === 'plain'
            ? tok.encode(opts.prompt)
            : userPromptIds(tok, format, opts.prompt);
      if (images.length > 0) prompt = model.expandImages(prompt);
      const stopIds = opts.stop?.length
        ? opts.stop
        : [...new Set([...(tok.eosId !== undefined ? [tok.eosId] : []), ...model.config.eosTokenIds])];
      // Stream text to a terminal as it is produced; print it whole otherwise.
      const stream = !opts.json && process.stdout.isTTY === true;
      const soFar: number[] = [];
      let shown = '';
      const ids = await generateGreedy(model, prompt, {
        maxNewTokens: opts.maxNewTokens,
        ...(images.length > 0 ? { images: images.map((f) => ({ source: f })) } : {}),
        stopIds,
        ...(stream
          ? {
              onToken: (id: number) => {
                soFar.push(id);
                const text = tok.decode(soFar, { skipSpecialTokens: true });
                process.stdout.write(text.slice(shown.length));
                shown = text;
              },
            }
          : {}),
      });
      const text = tok.decode(ids, { skipSpecialTokens: true });
      if (opts.json) process.stdout.write(JSON.stringify({ ids, text }) + '\n');
      else if (stream) process.stdout.write(text.slice(shown.length) + '\n');
      else process.stdout.write(text + '\n');
    });
}
