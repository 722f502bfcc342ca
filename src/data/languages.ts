// One table of the languages the engine knows, keyed by ISO 639-1 code, with the other codes
// data sets use for them (NTREX-128 / ISO 639-3 codes such as "arb", "zho-CN").
import { PlastError } from '../errors';

export interface Language {
  code: string; // ISO 639-1, the engine's canonical code
  name: string; // English name, used in prompts ("Translate this from Arabic to English")
  aliases: string[];
}

export const LANGUAGES: Language[] = [
  { code: 'en', name: 'English', aliases: ['eng', 'en-US', 'en-GB'] },
  { code: 'ar', name: 'Arabic', aliases: ['arb', 'ara'] },
  { code: 'tr', name: 'Turkish', aliases: ['tur'] },
  { code: 'ru', name: 'Russian', aliases: ['rus'] },
  { code: 'pt', name: 'Portuguese', aliases: ['por', 'pt-PT', 'pt-BR'] },
  { code: 'zh', name: 'Chinese', aliases: ['zho', 'zho-CN', 'zh-CN', 'cmn', 'zh-Hans'] },
  { code: 'hi', name: 'Hindi', aliases: ['hin'] },
  { code: 'he', name: 'Hebrew', aliases: ['heb', 'iw'] },
  { code: 'ro', name: 'Romanian', aliases: ['ron', 'rum'] },
  { code: 'th', name: 'Thai', aliases: ['tha'] },
  { code: 'de', name: 'German', aliases: ['deu', 'ger'] },
  { code: 'fr', name: 'French', aliases: ['fra', 'fre'] },
  { code: 'es', name: 'Spanish', aliases: ['spa'] },
  { code: 'it', name: 'Italian', aliases: ['ita'] },
  { code: 'ja', name: 'Japanese', aliases: ['jpn'] },
  { code: 'ko', name: 'Korean', aliases: ['kor'] },
  { code: 'vi', name: 'Vietnamese', aliases: ['vie'] },
  { code: 'id', name: 'Indonesian', aliases: ['ind'] },
  { code: 'uk', name: 'Ukrainian', aliases: ['ukr'] },
  { code: 'pl', name: 'Polish', aliases: ['pol'] },
  { code: 'nl', name: 'Dutch', aliases: ['nld', 'dut'] },
  { code: 'el', name: 'Greek', aliases: ['ell', 'gre'] },
  { code: 'cs', name: 'Czech', aliases: ['ces', 'cze'] },
  { code: 'sv', name: 'Swedish', aliases: ['swe'] },
  { code: 'fa', name: 'Persian', aliases: ['fas', 'pes', 'per'] },
  { code: 'bn', name: 'Bengali', aliases: ['ben'] },
  { code: 'sw', name: 'Swahili', aliases: ['swh', 'swa'] },
];

const BY_KEY = new Map<string, Language>();
for (const l of LANGUAGES) {
  BY_KEY.set(l.code.toLowerCase(), l);
  BY_KEY.set(l.name.toLowerCase(), l);
  for (const a of l.aliases) BY_KEY.set(a.toLowerCase(), l);
}

/** The language for a code or alias (case-insensitive), or undefined. */
export function findLanguage(key: string): Language | undefined {
  return BY_KEY.get(key.trim().toLowerCase());
}

/** The language for a code or alias; an unknown one is an ERR_LANG listing what is known. */
export function language(key: string, where?: string): Language {
  const l = findLanguage(key);
  if (!l) {
    throw new PlastError(
      'ERR_LANG',
      `unknown language code "${key}"${where ? ` in ${where}` : ''}; known: ${LANGUAGES.map((x) => x.code).join(', ')} (and ISO 639-3/NTREX aliases such as arb, zho-CN)`,
      { field: 'lang' },
    );
  }
  return l;
}

/** Parses "en,ar,tr" into canonical codes, rejecting unknown and repeated ones. */
export function parseLanguageList(list: string): string[] {
  const out: string[] = [];
  for (const part of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const l = language(part, '--langs');
    if (out.includes(l.code)) throw new PlastError('ERR_LANG', `language "${part}" is listed twice in --langs`, { field: 'langs' });
    out.push(l.code);
  }
  if (out.length === 0) throw new PlastError('ERR_LANG', 'Expected at least one language in --langs', { field: 'langs' });
  return out;
}
