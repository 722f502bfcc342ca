// Colours that mean the same thing in every plot the engine draws: one per language (by its place
// in the table of known languages, English first), and one for averages.
import { LANGUAGES, findLanguage } from '../data/languages';

// Tableau 20: ten hues, each dark then light, so neighbours in the language table differ in hue.
const HUES = [
  '#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#79706e',
  '#9ecae9', '#ffbf79', '#88d27a', '#ff9d98', '#83bcb6', '#d6a5c9', '#f2cf5b', '#d8b5a5', '#fcbfd2', '#bab0ac',
];

/** The colour of averages over languages (dashed in the plots). */
export const AVERAGE_COLOR = '#333333';

/** The colour of a language in every plot: the same code (or alias) always gets the same one. */
export function languageColor(code: string): string {
  const l = findLanguage(code);
  const i = l && LANGUAGES.includes(l) ? LANGUAGES.indexOf(l) : [...code].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) >>> 0, 7);
  return HUES[i % HUES.length]!;
}
