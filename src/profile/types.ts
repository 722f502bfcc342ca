// The shapes of a profile (its options, profile.json, the in-memory result), apart from the code
// that computes and plots them: profile.ts and plots.ts both read these, and neither imports the
// other's types through a cycle.
import type { FormatName, PromptFormat, TemplateChoice } from '../data/templates';
import type { CountsFile } from './counts';
import type { LapeOptions, LapeResult } from './lape';
import type { LayerStats, PeakRule, SelectOptions, Selection } from './stats';

export type Scope = 'question' | 'text' | 'image' | 'all';
export const SCOPES: Scope[] = ['question', 'text', 'image', 'all'];
export const DEFAULT_SCOPE: Scope = 'question';

export interface Shard {
  index: number;
  count: number;
}

/** Which shards of n a profile covers (a single run: one index; a merge: several). */
export interface ShardCoverage {
  count: number;
  indices: number[];
}

export interface ProfileOptions extends SelectOptions {
  /** JSONL of parallel questions (see src/data/parallel.ts). */
  data: string;
  /** Languages (codes or aliases); must include English. */
  langs: string[];
  scope?: Scope;
  /** Conversation format (default auto: the model's own, data/templates.ts). */
  template?: TemplateChoice | PromptFormat;
  /** Token budget per batch: rows x longest prompt (default 4096). */
  batchTokens?: number;
  /** Only the first N questions of the file. */
  limit?: number;
  /** This process's slice: "i/n" or {index, count}. */
  shard?: Shard | string;
  lape?: LapeOptions;
  /** Progress on stderr (util/progress.ts): false for none; by default a bar on a terminal and a plain line every few seconds otherwise, unless PLAST_NO_PROGRESS is set. */
  progress?: boolean;
  /** Called after each batch. */
  onBatch?: (info: { done: number; total: number; tokens: number; seconds: number }) => void;
  /** Aborted: stop before the next batch with ERR_INTERRUPTED (a profile is all or nothing). */
  signal?: AbortSignal;
}

export interface LanguageSummary {
  questions: number;
  /** Counted tokens (in the scope). */
  tokens: number;
  /** All prompt tokens run through the model. */
  promptTokens: number;
}

/** Everything about a profile except what is derived from its counts. */
export interface ProfileMeta {
  format: 'plast-profile';
  formatVersion: 1;
  engineVersion: string;
  model: { dir: string; fingerprint: string; architecture: string; modelType: string; layers: number; intermediate: number };
  data: {
    file: string;
    sha256: string;
    layout: 'wide' | 'long';
    questionsInFile: number;
    rows: number;
    blankLines: number;
    columns: Record<string, string>;
  };
  params: {
    langs: string[];
    scope: Scope;
    /** The conversation format used (auto resolved). */
    template: FormatName;
    limit: number | null;
    /** null: every question (after limit); else the shards of n covered. */
    shard: ShardCoverage | null;
    backend: string;
  };
  /** Questions profiled (each in every language). */
  questions: number;
  languages: Record<string, LanguageSummary>;
  /** How this output was produced (not part of the result: differs between equal profiles). */
  run: Record<string, unknown>;
}

export interface ProfileJson extends ProfileMeta {
  /** peak: the rule that ended K (absent in profiles from before the option: global). */
  stats: { tau: number; minLayers: number; maxLayers: number | null; peak?: PeakRule; rule: string };
  layers: LayerStats[];
  selection: Selection;
  lape: Omit<LapeResult, 'neurons'> & { rule: string; file: string };
  files: { counts: string; lape: string; plots: string[] };
}

export interface Profile {
  json: ProfileJson;
  counts: CountsFile;
  lape: LapeResult;
}
