// Library entry point.
export { PlastError, ErrorCode } from './errors';
export { listBackends, resolveBackend, BackendName, BackendChoice, BackendInfo } from './native';
export { Model, LoadOptions, ForwardOutput, StepOutput, ModuleSet } from './model/model';
export { Sequence, packBatch } from './model/batch';
export { ModelConfig, readConfig, parseConfig } from './model/config';
export { openCheckpoint, canonicalName, Checkpoint } from './model/checkpoint';
export { readSafetensorsHeader, StHeader, StTensor } from './model/safetensors';
export { TextTokenizer } from './model/tokenizer';
export { generateGreedy, GenerateOptions } from './model/generate';
export { LANGUAGES, language, findLanguage, parseLanguageList } from './data/languages';
export { TranslationPair, PairsData, EncodedPair, loadPairs, encodePair, encodePairs } from './data/pairs';
export { BadRow, BadReason } from './data/rows';
export { McqItem, McqData, loadMcq } from './data/mcq';
export { train, TrainOptions, TrainResult, StepRecord, DataReport } from './train/train';
export { cosineWithWarmup, warmupSteps } from './train/schedule';
export { parseLayerList, layersFromProfile } from './train/layers';
export { exportCheckpoint, ExportResult } from './train/export';
export { loadState, TrainState, RunConfig } from './train/state';
export { evaluate, EvalOptions, EvalReport, formatReport } from './eval/evaluate';
export { translationNll, NllReport } from './eval/nll';
export { scoreLetters, scoreLikelihood, McqResult } from './eval/mcq';
export { version } from './version';
export { loadParallel, ParallelData, ParallelQuestion, ParallelOptions } from './data/parallel';
export {
  runProfile, writeProfile, readProfile, finishProfile, packByTokens, parseShard, modelFingerprint,
  Profile, ProfileJson, ProfileMeta, ProfileOptions, Scope, Shard, ShardCoverage,
} from './profile/profile';
export { reselect, mergeProfiles, ReselectOptions, MergeOptions } from './profile/merge';
export { computeStats, CountTable, SelectOptions, Selection, LayerStats, ProfileStats, DEFAULT_TAU } from './profile/stats';
export { lapeNeurons, LapeOptions, LapeResult } from './profile/lape';
export { readCounts, writeCounts, CountsFile } from './profile/counts';
export { formatProfile } from './profile/report';
export { lineChartSvg, lineChartSpec, svgToPng, writeLineChart, LineChart, LineSeries, Marker, Band, Highlight, Point } from './plot/chart';
export { writeProfilePlots, writeComparePlots } from './profile/plots';
export { runPlast, resolveRunConfig, RunOptions, RunResult, RunState, RunConfig as PlastRunConfig, StageName, STAGES } from './run/run';
export { compareEvals, writeReport, EvalComparison } from './run/report';
export { chooseData, dataFiles, splitPairs } from './run/data';
export { onInterrupt, Interrupt } from './util/interrupt';
