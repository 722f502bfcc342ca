// `plast profile` as a library call: parallel questions -> prompts -> token batches -> forward
// passes that count, per decoder layer and SwiGLU neuron, the tokens on which gate_proj(x) > 0
// (the LM head is never computed) -> per-language counts -> statistics, selection, LAPE, plots.
//
// Scopes (which tokens are counted; DESIGN.md):
//   question  only the tokens of the question text (default)
//   text      every text token: the template's and the question's, not BOS/EOS
//   all       every token, BOS included
// Text-only prompts have no image tokens yet, so `text` and `all` differ only by the special
// tokens; with the vision path, `text` will leave out the image tokens and `all` keep them.
//
// Batching: each batch holds prompts of ONE language (counts come back summed over a batch).
// Prompts are sorted by length (longest first, then question order) and rows are added while
// rows x longest <= --batch-tokens (a prompt longer than the budget runs alone). Padding is
// masked out of attention and counting, so counts do not depend on the budget (tested).
//
// Sharding (--shard i/n, i in 0..n-1): after --limit, this process takes the questions whose
// index modulo n is i — interleaved rather than contiguous, so every shard gets a similar mix of
// lengths and similar run time. `plast profile merge` sums shards into the profile of one run.
import { createHash } from 'node:crypto';
import { cpSync, createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { hostname } from 'node:os';
import { PlastError, expectPositiveInt } from '../errors';
import { IMAGE_PLACEHOLDER, ImageTokens, expandEncoded } from '../model/llava';
import { Model } from '../model/model';
import { TextTokenizer } from '../model/tokenizer';
import { checkRowImages } from '../data/images';
import { ParallelData, loadParallel } from '../data/parallel';
import { language, languagesBeside } from '../data/languages';
import { encodeSegments } from '../data/segments';
import { DEFAULT_TEMPLATE, TemplateName, resolveFormat, templateArg, templateName, userTurn } from '../data/templates';
import { progress } from '../util/progress';
import { writeDirAtomic, writeJsonAtomic } from '../util/atomic';
import { withOutputLock } from '../util/lock';
import { version } from '../version';
import { CountsFile, readCounts, writeCounts } from './counts';
import { LAPE_RULE, LapeOptions, lapeNeurons } from './lape';
import { ENGLISH, SelectOptions, checkSelectOptions, computeStats } from './stats';
import { writeProfilePlots } from './plots';
import { DEFAULT_SCOPE, LanguageSummary, Profile, ProfileJson, ProfileMeta, ProfileOptions, SCOPES, Scope, Shard } from './types';

export const DEFAULT_BATCH_TOKENS = 4096;
/** Questions per chunk when they carry images (chunks run every language before the next). */
const IMAGE_CHUNK_QUESTIONS = 64;
export const PROFILE_FILE = 'profile.json';
export const COUNTS_FILE = 'counts.safetensors';
export const LAPE_FILE = 'lape.json';

export const STATS_RULE =
  'p = count/tokens; N = {j : p > tau}; R = |N|/d; O = |N_l ∩ N_en|/|N_en|; peak = first layer of max mean non-English O; ' +
  'K = layers before the peak; MSD over all languages of R; theta = mean MSD over K; selected = K layers with MSD > theta ' +
  '(all of K when none exceeds theta; then --min-layers/--max-layers). Details in `selection.reasoning`.';

export function parseShard(s: Shard | string): Shard {
  if (typeof s !== 'string') {
    if (!Number.isInteger(s.count) || s.count < 1 || !Number.isInteger(s.index) || s.index < 0 || s.index >= s.count) {
      throw new PlastError('ERR_INVALID', `Expected a shard with 0 <= index < count but received ${JSON.stringify(s)}`, { field: 'shard' });
    }
    return s;
  }
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new PlastError('ERR_INVALID', `Expected a shard "i/n" (0 <= i < n, e.g. 0/4) but received "${s}"`, { field: 'shard' });
  return parseShard({ index: Number(m[1]), count: Number(m[2]) });
}

export function checkScope(s: string): Scope {
  if ((SCOPES as string[]).includes(s)) return s as Scope;
  throw new PlastError('ERR_INVALID', `Expected a scope of question, text or all but received "${s}"`, { field: 'scope' });
}

/** Canonical language codes; English and one other language are required. */
export function profileLanguages(langs: string[]): string[] {
  const codes: string[] = [];
  for (const l of langs) {
    const c = language(l, '--langs').code;
    if (codes.includes(c)) throw new PlastError('ERR_LANG', `language "${l}" is listed twice`, { field: 'langs' });
    codes.push(c);
  }
  if (!codes.includes(ENGLISH)) {
    throw new PlastError('ERR_LANG', `English ("en") must be among the languages: the overlap O is measured against it (got ${codes.join(', ') || 'none'})`, {
      field: 'langs',
    });
  }
  if (codes.length < 2) throw new PlastError('ERR_LANG', 'Expected at least one language besides English', { field: 'langs' });
  return codes;
}

/** Greedy packing by a token budget: indices (into `lengths`) per batch, longest prompts first. */
export function packByTokens(lengths: number[], budget: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const batches: number[][] = [];
  let cur: number[] = [];
  let longest = 0;
  for (const i of order) {
    const len = lengths[i]!;
    const wide = Math.max(longest, len);
    if (cur.length > 0 && (cur.length + 1) * wide > budget) {
      batches.push(cur);
      cur = [];
      longest = 0;
    }
    cur.push(i);
    longest = Math.max(longest, len);
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}

/** sha256 over config.json, tokenizer files and every weight file (names + bytes). */
export async function modelFingerprint(model: Model): Promise<string> {
  const h = createHash('sha256');
  const files = [
    join(model.dir, 'config.json'),
    join(model.dir, 'tokenizer.json'),
    ...['tokenizer_config.json'].map((f) => join(model.dir, f)).filter((f) => existsSync(f)),
    ...model.checkpoint.files.map((f) => f.file),
  ];
  for (const f of files) {
    h.update(`${basename(f)}\0${statSync(f).size}\0`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(f, { highWaterMark: 4 << 20 })
        .on('data', (chunk) => h.update(chunk))
        .on('end', () => resolve())
        .on('error', (err) => reject(new PlastError('ERR_IO', `${f}: cannot read (${err.message})`, { file: f, cause: err })));
    });
  }
  return `sha256:${h.digest('hex')}`;
}

export interface ProfilePrompt {
  ids: number[];
  /** 1 where the token is counted (in the scope), else 0. */
  count: Uint8Array;
  counted: number;
  /** The question's image (a path or base64, as in the data), when the prompt holds one. */
  image?: string;
  /** The data line of the question (named in image errors). */
  line?: number;
}

/**
 * The prompt of one question and which of its tokens the scope counts (what runProfile runs). With
 * `image`, the user turn is LLaVA's "<image>\n{question}" and the placeholder is expanded to one
 * token per image feature: `image` counts those, `text` every other non-special token.
 */
export function profilePrompt(tok: TextTokenizer, text: string, template: TemplateName, scope: Scope, image?: ImageTokens): ProfilePrompt {
  const body = image
    ? [{ text: `${IMAGE_PLACEHOLDER}\n`, tag: 'image' as const }, { text, tag: 'question' as const }]
    : [{ text, tag: 'question' as const }];
  const encoded = encodeSegments(tok, userTurn(template, body, 'frame'));
  // The newline after <image> belongs to the frame: only the placeholders are image tokens.
  const { ids, tags } = image ? expandEncoded(encoded, image, 'image', 'frame', 1) : encoded;
  const count = new Uint8Array(ids.length);
  let counted = 0;
  tags.forEach((tag, k) => {
    const c =
      scope === 'all' ||
      (scope === 'text' ? tag !== 'special' && tag !== 'image' : scope === 'image' ? tag === 'image' : tag === 'question');
    if (c) {
      count[k] = 1;
      counted++;
    }
  });
  return { ids, count, counted };
}

/** Runs the model over the questions and returns the finished profile (nothing is written). */
export async function runProfile(model: Model, opts: ProfileOptions): Promise<Profile> {
  const started = Date.now();
  const scope = checkScope(opts.scope ?? DEFAULT_SCOPE);
  const format = resolveFormat(typeof opts.template === 'string' ? templateName(opts.template) : opts.template ?? DEFAULT_TEMPLATE, model);
  const template = templateArg(format);
  const batchTokens = expectPositiveInt('batchTokens', opts.batchTokens ?? DEFAULT_BATCH_TOKENS);
  if (opts.limit !== undefined) expectPositiveInt('limit', opts.limit);
  const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
  languagesBeside(opts.data); // names of languages no table knows
  const langs = profileLanguages(opts.langs);
  // Validate the statistics options now, not after the model has run.
  checkSelectOptions(opts, model.config.numLayers);

  const data: ParallelData = loadParallel(opts.data, langs, opts.limit !== undefined ? { limit: opts.limit } : {});
  const questions = shard ? data.questions.filter((q) => q.index % shard.count === shard.index) : data.questions;
  if (questions.length === 0) {
    throw new PlastError('ERR_DATA', `${opts.data}: no questions to profile${shard ? ` in shard ${shard.index}/${shard.count}` : ''}`, { file: opts.data });
  }
  const fingerprint = modelFingerprint(model);
  fingerprint.catch(() => {}); // awaited below; keep an early failure from being unhandled

  const cfg = model.config;
  const layers = cfg.numLayers;
  const inter = cfg.intermediateSize;
  const withImages = questions.filter((q) => q.image !== undefined).length;
  if (withImages > 0 && !model.vision) {
    throw new PlastError('ERR_INVALID', `${data.file}: ${withImages} question(s) carry an image but the model was loaded without its vision tower (Model.load(dir, { vision: true }))`, {
      file: data.file,
      field: 'image',
    });
  }
  if (scope === 'image' && withImages === 0) {
    throw new PlastError('ERR_INVALID', `${data.file}: the image scope counts image tokens, but no question has an "image"`, { file: data.file, field: 'scope' });
  }
  if (withImages > 0) {
    // Every image is read once before the run: a bad one stops the profile now, not half way.
    const { bad } = await checkRowImages(questions, (q) => (q.image !== undefined ? { source: q.image, file: data.file, line: q.line } : undefined), (src, where) =>
      model.imagePixels(src, where),
    );
    if (bad.length > 0) {
      const more = bad.length > 1 ? ` (and ${bad.length - 1} more question(s) with a bad image)` : '';
      throw new PlastError('ERR_DATA', `${bad[0]!.message}${more}`, { file: data.file, line: bad[0]!.line, field: 'image' });
    }
  }
  const imageTokens = model.imageTokens;
  // Prompts per language, checked against the model's context before anything runs.
  const prompts: Record<string, ProfilePrompt[]> = {};
  for (const l of langs) {
    prompts[l] = questions.map((q) => {
      const p = profilePrompt(model.tokenizer, q.texts[l]!, template, scope, q.image !== undefined ? imageTokens : undefined);
      if (q.image !== undefined) Object.assign(p, { image: q.image, line: q.line });
      if (p.ids.length > cfg.maxPositions) {
        throw new PlastError(
          'ERR_DATA',
          `${data.file}:${q.line}: question "${q.id}" in ${l} is ${p.ids.length} tokens, more than the model's ${cfg.maxPositions} positions`,
          { file: data.file, line: q.line, field: l },
        );
      }
      return p;
    });
  }

  const counts: Record<string, Float64Array> = {};
  const languages: Record<string, LanguageSummary> = {};
  // Batches per language. With images, the questions go in chunks, every language of a chunk
  // before the next chunk, so that each image's features are still cached when the next language
  // meets it (the tower runs once per image, not once per language). Counts are sums: the order
  // does not change them.
  const chunk = withImages > 0 ? IMAGE_CHUNK_QUESTIONS : questions.length;
  const plan: { lang: string; batches: number[][] }[] = [];
  for (let c0 = 0; c0 < questions.length; c0 += chunk) {
    const ids = questions.slice(c0, c0 + chunk).map((_, i) => c0 + i);
    for (const l of langs) plan.push({ lang: l, batches: packByTokens(ids.map((i) => prompts[l]![i]!.ids.length), batchTokens).map((b) => b.map((k) => ids[k]!)) });
  }
  for (const l of langs) {
    counts[l] = new Float64Array(layers * inter);
    languages[l] = { questions: questions.length, tokens: 0, promptTokens: 0 };
  }
  const totalPrompts = questions.length * langs.length;
  const bar = progress({ label: 'profile', total: totalPrompts, unit: 'prompts', fields: ['rate'], ...(opts.progress !== undefined ? { enabled: opts.progress } : {}) });
  let done = 0;
  let tokensRun = 0;
  let batches = 0;
  const t0 = Date.now();
  try {
    for (const { lang, batches: lb } of plan) {
      const acc = counts[lang]!;
      const summary = languages[lang]!;
      for (const idx of lb) {
        const seqs = idx.map((i) => prompts[lang]![i]!);
        const want = seqs.reduce((a, s) => a + s.counted, 0);
        if (opts.signal?.aborted) {
          throw new PlastError('ERR_INTERRUPTED', `profile interrupted after ${done} of ${totalPrompts} prompts; nothing was written`);
        }
        const r = await model.forward(
          seqs.map((s) => ({ ids: s.ids, count: s.count, ...(s.image !== undefined ? { images: [{ source: s.image, file: data.file, ...(s.line !== undefined ? { line: s.line } : {}) }] } : {}) })),
        );
        if (r.countedTokens !== want) {
          throw new PlastError('ERR_INTERNAL', `the forward pass counted ${r.countedTokens} tokens where the masks mark ${want}`);
        }
        if (r.counts) {
          if (r.counts.length !== acc.length) {
            throw new PlastError('ERR_SHAPE', `the forward pass returned ${r.counts.length} counts; expected ${layers} x ${inter}`);
          }
          for (let k = 0; k < acc.length; k++) acc[k]! += Number(r.counts[k]!);
        }
        summary.tokens += want;
        const run = seqs.reduce((a, s) => a + s.ids.length, 0);
        summary.promptTokens += run;
        tokensRun += run;
        done += seqs.length;
        batches++;
        const seconds = (Date.now() - t0) / 1000;
        bar.update(done, { rate: `${Math.round(tokensRun / Math.max(seconds, 1e-3))} tok/s` });
        opts.onBatch?.({ done, total: totalPrompts, tokens: tokensRun, seconds });
      }
    }
  } finally {
    bar.stop();
  }
  const seconds = (Date.now() - started) / 1000;
  const meta: ProfileMeta = {
    format: 'plast-profile',
    formatVersion: 1,
    engineVersion: version,
    model: { dir: model.dir, fingerprint: await fingerprint, architecture: cfg.architecture, modelType: cfg.modelType, layers, intermediate: inter },
    data: {
      file: data.file,
      sha256: data.sha256,
      layout: data.layout,
      questionsInFile: data.questionsInFile,
      rows: data.rows,
      blankLines: data.blankLines,
      columns: data.columns,
    },
    params: {
      langs,
      scope,
      template: format.name,
      limit: opts.limit ?? null,
      shard: shard && shard.count > 1 ? { count: shard.count, indices: [shard.index] } : null,
      backend: model.backend,
    },
    questions: questions.length,
    languages,
    run: {
      command: 'profile',
      startedAt: new Date(started).toISOString(),
      seconds,
      forwardSeconds: (Date.now() - t0) / 1000,
      tokensPerSecond: tokensRun / Math.max((Date.now() - t0) / 1000, 1e-9),
      promptTokens: tokensRun,
      batches,
      batchTokens,
      host: hostname(),
    },
  };
  const countsFile: CountsFile = {
    langs,
    layers,
    intermediate: inter,
    counts,
    tokens: Object.fromEntries(langs.map((l) => [l, languages[l]!.tokens])),
    questions: Object.fromEntries(langs.map((l) => [l, languages[l]!.questions])),
  };
  return finishProfile(meta, countsFile, opts);
}

/** Statistics, selection and LAPE from counts; the profile JSON around them. */
export function finishProfile(meta: ProfileMeta, counts: CountsFile, opts: SelectOptions & { lape?: LapeOptions } = {}): Profile {
  if (counts.langs.join(',') !== meta.params.langs.join(',')) {
    throw new PlastError('ERR_MISMATCH', `the counts hold languages ${counts.langs.join(',')} but the profile lists ${meta.params.langs.join(',')}`);
  }
  if (counts.layers !== meta.model.layers || counts.intermediate !== meta.model.intermediate) {
    throw new PlastError('ERR_MISMATCH', `the counts are ${counts.layers} x ${counts.intermediate} but the model has ${meta.model.layers} x ${meta.model.intermediate}`);
  }
  const stats = computeStats(counts, opts);
  const lape = lapeNeurons(counts, opts.lape ?? {});
  const { neurons: _neurons, ...lapeSummary } = lape;
  void _neurons;
  const json: ProfileJson = {
    ...meta,
    stats: { tau: stats.selection.tau, minLayers: stats.selection.minLayers, maxLayers: stats.selection.maxLayers, peak: stats.selection.peakRule ?? 'global', rule: STATS_RULE },
    layers: stats.layers,
    selection: stats.selection,
    lape: { ...lapeSummary, rule: LAPE_RULE, file: LAPE_FILE },
    files: { counts: COUNTS_FILE, lape: LAPE_FILE, plots: [] },
  };
  // Keep `run` last in the file: it is the part that differs between equal profiles.
  const { run, ...rest } = json;
  return { json: { ...rest, run } as ProfileJson, counts, lape };
}

export interface WriteOptions {
  /** Draw the plots (default true). */
  plots?: boolean;
  /** Files of an existing directory to carry over (by name) when it is replaced. */
  keep?: string;
}

/**
 * Writes a profile directory atomically: everything is built in a temporary sibling directory and
 * renamed into place, so `dir` is never half-written. An existing `dir` is replaced only if it is
 * empty or a profile directory (has profile.json); everything else in it (files, sub-directories,
 * links) is carried over.
 */
export async function writeProfile(dir: string, p: Profile, opts: WriteOptions = {}): Promise<void> {
  // One writer per profile directory; under the lock of a CLI or of reselect this just runs.
  return withOutputLock(dir, 'profile', () => writeProfileDir(dir, p, opts));
}

async function writeProfileDir(dir: string, p: Profile, opts: WriteOptions): Promise<void> {
  const carry: string[] = [];
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new PlastError('ERR_IO', `${dir}: exists and is not a directory`, { file: dir });
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(PROFILE_FILE)) {
      throw new PlastError('ERR_IO', `${dir}: exists, is not empty and is not a profile directory (no ${PROFILE_FILE}); refusing to replace it`, { file: dir });
    }
    const ours = new Set([PROFILE_FILE, COUNTS_FILE, LAPE_FILE]);
    for (const e of entries) if (!ours.has(e) && !/^plot-.*\.(svg|png)$/.test(e)) carry.push(e);
  }
  await writeDirAtomic(dir, async (tmp) => {
    writeCounts(join(tmp, COUNTS_FILE), p.counts);
    writeJsonAtomic(join(tmp, LAPE_FILE), {
      rule: LAPE_RULE,
      filterRate: p.lape.filterRate,
      topRate: p.lape.topRate,
      threshold: p.lape.threshold,
      langs: p.counts.langs,
      neurons: p.lape.neurons,
    });
    const plots = opts.plots === false ? [] : await writeProfilePlots(tmp, p.json);
    p.json.files.plots = plots;
    writeJsonAtomic(join(tmp, PROFILE_FILE), p.json);
    // Everything else of the user's goes along: files, and sub-directories and links as they are
    // (only files were carried before, so a reselect silently deleted a sub-directory).
    for (const e of carry) cpSync(join(dir, e), join(tmp, e), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  });
}

/** Reads a profile directory (profile.json + counts.safetensors), checking they agree. */
export function readProfile(dir: string): { json: ProfileJson; counts: CountsFile } {
  const file = join(dir, PROFILE_FILE);
  let json: ProfileJson;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as ProfileJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ERR_IO' : 'ERR_FORMAT';
    throw new PlastError(code, `${file}: cannot read the profile (${(err as Error).message})`, { file, cause: err });
  }
  if (json?.format !== 'plast-profile' || json.formatVersion !== 1) {
    throw new PlastError('ERR_FORMAT', `${file}: not a plast profile (format ${JSON.stringify(json?.format)}, version ${JSON.stringify(json?.formatVersion)})`, { file });
  }
  const counts = readCounts(join(dir, json.files?.counts ?? COUNTS_FILE));
  if (counts.langs.join(',') !== json.params.langs.join(',')) {
    throw new PlastError('ERR_MISMATCH', `${dir}: counts.safetensors holds ${counts.langs.join(',')} but profile.json lists ${json.params.langs.join(',')}`, { file });
  }
  for (const l of counts.langs) {
    if (counts.tokens[l] !== json.languages[l]?.tokens) {
      throw new PlastError('ERR_MISMATCH', `${dir}: ${l} has ${counts.tokens[l]} tokens in counts.safetensors but ${json.languages[l]?.tokens} in profile.json`, { file });
    }
  }
  return { json, counts };
}

/** The metadata part of a profile JSON (what finishProfile starts from). */
export function metaOf(json: ProfileJson): ProfileMeta {
  return {
    format: json.format,
    formatVersion: json.formatVersion,
    engineVersion: json.engineVersion,
    model: json.model,
    data: json.data,
    params: json.params,
    questions: json.questions,
    languages: json.languages,
    run: json.run,
  };
}
