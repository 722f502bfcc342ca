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
export { version } from './version';
