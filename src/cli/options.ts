// Options and argument parsers that several `plast` commands share, so that a flag checks its
// value the same way (same parser, same choices, same message) wherever it appears. Each command
// still words its own help text: what --tau or --modules means differs a little per command.
import { InvalidArgumentError, Option } from 'commander';
import { ENGLISH_CUES, TEMPLATES } from '../data/templates';
import { languagesBeside, parseLanguageOption } from '../data/languages';
import { BackendChoice } from '../native';
import { SCOPES } from '../profile/types';
import { ImageAspect } from '../model/llava';
import { MODULE_SETS } from '../train/layers';

export function intOption(name: string, min = 1): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`Expected an integer >= ${min} for ${name} but received "${v}"`);
    return n;
  };
}

export function floatOption(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected a number in [${min}, ${max}] for ${name} but received "${v}"`);
    }
    return n;
  };
}

/** Comma-separated integers >= min, each checked as intOption checks one; empty items are
 * skipped, so "" is an empty list. Parsed with the command line, not in the action, so a bad item
 * is a usage error before any model loads. */
export function intListOption(name: string, min = 0): (v: string) => number[] {
  const one = intOption(name, min);
  return (v: string) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map(one);
}

/** A default as the help text writes it: 2e-5 rather than 0.00002. */
export function helpNumber(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x);
}

// Defaults and required options in the help, the same on every command: "(default: …)",
// "(required)". Most defaults are applied by the library, not by commander (a resumed training or
// a run's stored configuration must see only what was given), so an option shows its default with
// shown(option, value), which sets the help text and leaves the value unset.

/** `option` with `value` as the default the help shows (numbers as helpNumber writes them, names
 * quoted as commander quotes its own defaults, anything else as words). */
export function shown(option: Option, value: number | string | { words: string }): Option {
  const text = typeof value === 'number' ? helpNumber(value) : typeof value === 'string' ? JSON.stringify(value) : value.words;
  return option.default(undefined, text);
}

/** A numeric option: its parser, and the default the library applies. */
export function numberOption(flags: string, description: string, parse: (v: string) => number, dflt?: number | { words: string }): Option {
  const o = new Option(flags, description).argParser(parse);
  return dflt === undefined ? o : shown(o, dflt);
}

/** The description of an option in the help: commander's (choices, a default it sets), plus a
 * default only shown (see shown()) and "required" for a requiredOption. Installed on every command
 * by main.ts (configureHelp, which subcommands inherit). */
export function optionDescription(option: Option): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`choices: ${option.argChoices.map((c) => JSON.stringify(c)).join(', ')}`);
  if (option.defaultValue !== undefined) {
    if (option.required || option.optional || (option.isBoolean() && typeof option.defaultValue === 'boolean')) {
      extra.push(`default: ${option.defaultValueDescription || JSON.stringify(option.defaultValue)}`);
    }
  } else if (option.defaultValueDescription) {
    extra.push(`default: ${option.defaultValueDescription}`);
  }
  if (option.mandatory) extra.push('required');
  return extra.length > 0 ? `${option.description} (${extra.join(', ')})` : option.description;
}

const BACKENDS: BackendChoice[] = ['auto', 'cpu', 'cuda'];

/** --backend, on every command that loads a model. */
export function backendOption(): Option {
  return shown(new Option('--backend <name>', 'compute backend').choices(BACKENDS), { words: 'PLAST_BACKEND, else auto' });
}

/** --modules: which tensors of a trained layer train. */
export function modulesOption(description: string): Option {
  return new Option('--modules <set>', description).choices(MODULE_SETS);
}

/** A prompt template chosen from the known ones (--template, --profile-template). */
export function templateOption(flags: string, description: string): Option {
  return new Option(flags, description).choices(TEMPLATES);
}

/** --language CODE=Name, repeatable: a language no table names (data/languages.ts). */
export function languageOption(): Option {
  return new Option('--language <code=name>', 'name a language no table knows, e.g. xa=Vessic (repeatable; or a languages.json beside the data)').argParser(
    (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
  );
}

/** Registers --language values and the languages.json beside the data, before --langs is read. */
export function nameLanguages(given: string[] | undefined, data: string | string[] | undefined): void {
  for (const s of given ?? []) parseLanguageOption(s);
  if (data !== undefined) languagesBeside(data);
}

/** --english-cue: where the translation prompt's "\nEnglish:" line goes in a conversation format. */
export function englishCueOption(): Option {
  return new Option('--english-cue <turn>', 'translation prompt in a conversation: assistant (the reply is the English sentence) or user (the user turn ends with "\\nEnglish:", as the paper\'s prompt)').choices(
    ENGLISH_CUES,
  );
}

/** --scope: which tokens a profile counts. */
export function scopeOption(description: string): Option {
  return new Option('--scope <scope>', description).choices(SCOPES);
}

/** --tau: the activation threshold of a profile (p > tau; below 1, or no neuron could pass). */
export function tauOption(description: string): Option {
  return new Option('--tau <t>', description).argParser(floatOption('--tau', 0, 0.999999));
}

/** --min-layers: the fewest layers a selection keeps (0 allows an empty one). */
export function minLayersOption(description: string): Option {
  return new Option('--min-layers <n>', description).argParser(intOption('--min-layers', 0));
}

/** --image-aspect: how images are fitted to the vision tower's square input. */
export function imageAspectOption(): Option {
  return shown(
    new Option('--image-aspect <mode>', "images: crop (the processor's resize and center crop) or pad (LLaVA-1.5's expand-to-square with the mean colour first)").choices(['crop', 'pad']),
    { words: "the checkpoint's image_aspect_ratio, else crop" },
  );
}

/** --vision-tower: the original LLaVA layout's CLIP checkpoint, which its config names by hub id. */
export function visionTowerOption(): Option {
  return new Option('--vision-tower <dir>', "original LLaVA checkpoints (llava_llama, mm_projector): a local copy of the CLIP tower config.json's mm_vision_tower names");
}

/** The Model.load options of the two vision options, as given. */
export function visionLoadOptions(o: { imageAspect?: ImageAspect; visionTower?: string }): { imageAspect?: ImageAspect; visionTower?: string } {
  return { ...(o.imageAspect !== undefined ? { imageAspect: o.imageAspect } : {}), ...(o.visionTower !== undefined ? { visionTower: o.visionTower } : {}) };
}
