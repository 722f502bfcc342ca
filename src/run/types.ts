// The shapes of `plast run`: its options, the configuration and state in run.json, and what it
// returns and reports. run.ts (the stages) and report.ts (the report) both read these, so they
// live apart from either.
import type { ImageAspect } from '../model/llava';
import type { EvalReport } from '../eval/evaluate';
import type { EnglishCue, TemplateChoice } from '../data/templates';
import type { ModuleSet } from '../model/model';
import type { BackendChoice } from '../native';
import type { ProfileJson, Scope } from '../profile/types';
import type { PeakRule } from '../profile/stats';
import type { TrainOptions } from '../train/options';

/** What `plast run` takes; the training options among them are train()'s (its seed also seeds the
 * split). */
export interface RunOptions extends Pick<TrainOptions, 'modules' | 'epochs' | 'lr' | 'batch' | 'microBatch' | 'maxLen' | 'warmup' | 'seed'> {
  out: string;
  /** HF checkpoint directory (default: the bundled mini-ml). */
  model?: string;
  /** Parallel JSONL file or a directory of them (default: the bundled data). */
  data?: string;
  /** The file the profile reads (default: chosen from --data, see data.ts). */
  profileData?: string;
  langs?: string[];
  backend?: BackendChoice;
  /** Images (LLaVA data): crop or pad; default the checkpoint's, else crop. */
  imageAspect?: ImageAspect;
  /** The original LLaVA layout's CLIP tower directory. */
  visionTower?: string;
  /** Conversation format of profile, training and evaluation (default auto: the model's own,
   * data/templates.ts). */
  template?: TemplateChoice;
  /** Another format for the profile only: refused (ERR_MISMATCH) unless mixFormats. */
  profileTemplate?: TemplateChoice;
  /** Profile in one format and train in another (an ablation). */
  mixFormats?: boolean;
  /** Where the translation prompt's "\nEnglish:" cue goes (default assistant). */
  englishCue?: EnglishCue;
  scope?: Scope;
  tau?: number;
  minLayers?: number;
  maxLayers?: number;
  /** Which maximum of the average overlap ends K (default global). */
  peak?: PeakRule;
  /** Questions profiled (first N of the profile file). */
  profileLimit?: number;
  /** Train these layers instead of the profile's selection (an ablation). */
  layers?: number[];
  /** Training pairs used (a seeded sample). */
  trainLimit?: number;
  /** Held-out pairs per language scored before and after. */
  evalPerLang?: number;
  /** Share of parallel items held out (default DEFAULT_HELDOUT). */
  heldout?: number;
  /** More evaluation files (MMBench-style MCQ or pairs), scored before and after. */
  evalData?: string[];
  /** Stop the training after this many optimizer steps in total (a checkpoint is kept); the same
   * command without it continues bit-identically. Not part of the run's configuration. */
  stopAfter?: number;
  /** Start again in an --out that holds a different run. */
  overwrite?: boolean;
  /** Aborted: the training stops after its current step with a checkpoint (status 'stopped'); a
   * profile stops before its next batch and a later stage does not start (ERR_INTERRUPTED). The
   * same call again continues. */
  signal?: AbortSignal;
  /** Progress on stderr (util/progress.ts): false for none; by default a bar on a terminal and a plain line every few seconds otherwise, unless PLAST_NO_PROGRESS is set. */
  progress?: boolean;
  log?: (msg: string) => void;
}

/** What a run uses after defaults: stored in run.json and compared when a run is resumed. */
export interface RunConfig {
  engineVersion: string;
  model: string;
  bundledModel: boolean;
  data: string;
  dataFiles: string[];
  profileData: string;
  profileReason: string;
  langs: string[];
  backend: BackendChoice;
  /** null: the checkpoint's image_aspect_ratio, else crop. */
  imageAspect: ImageAspect | null;
  /** The CLIP tower directory (absolute), null when not given. */
  visionTower: string | null;
  template: TemplateChoice;
  profileTemplate: TemplateChoice;
  englishCue: EnglishCue;
  scope: Scope;
  tau: number | null;
  minLayers: number | null;
  maxLayers: number | null;
  peak: PeakRule | null;
  profileLimit: number | null;
  layers: number[] | null;
  modules: ModuleSet;
  epochs: number;
  lr: number;
  batch: number;
  microBatch: number | null;
  maxLen: number;
  warmup: number;
  seed: number;
  trainLimit: number | null;
  evalPerLang: number | null;
  heldout: number;
  evalData: string[];
}

export type StageName = 'split' | 'profile' | 'evalBefore' | 'train' | 'evalAfter' | 'profileAfter' | 'report';
export const STAGES: StageName[] = ['split', 'profile', 'evalBefore', 'train', 'evalAfter', 'profileAfter', 'report'];

export interface StageRecord {
  done: boolean;
  seconds: number;
  finishedAt?: string;
}

export interface RunState {
  format: 'plast-run';
  formatVersion: 1;
  config: RunConfig;
  stages: Partial<Record<StageName, StageRecord>>;
  /** The backend the model ran on in the latest invocation (cpu/cuda). */
  backendUsed?: string;
}

export interface ReportInput {
  state: RunState;
  profile: ProfileJson;
  /** The same profile of the tuned checkpoint (null when the run stopped before it). */
  profileAfter: ProfileJson | null;
  train: TrainSummary;
  layers: number[];
  evalBefore: EvalReport[];
  evalAfter: EvalReport[];
}

/** What a run returns: the report's inputs (ReportInput: state, profile, train, the layers trained
 * — the selection or --layers —, evaluations before and after) and where things are. */
export interface RunResult extends ReportInput {
  out: string;
  /** 'stopped': --stop-after ended the training early; evalAfter and report are empty. */
  status: 'completed' | 'stopped';
  report: { json: string; markdown: string };
  /** Stages skipped because an earlier invocation finished them. */
  skipped: StageName[];
}

/** The subset of the trainer's summary.json the report uses. */
export interface TrainSummary {
  status: string;
  step: number;
  totalSteps: number;
  firstLoss: number | null;
  finalLoss: number | null;
  tokensPerSecond: number;
  seconds: number;
  trainable?: string[];
  trainableParams?: number;
  /** All parameters of the model (added by the run, not the trainer). */
  totalParams?: number;
  export?: { dir: string; delta: string } | null;
}
