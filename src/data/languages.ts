// The languages the engine knows. Three sources, in this order:
//   1. a table of common languages keyed by ISO 639-1 code, with the other codes data sets use
//      for them (NTREX-128 / ISO 639-3 codes such as "arb", "zho-CN"): their canonical codes and
//      colours are fixed;
//   2. languages named by the user: a languages.json beside the data ([{"code": "xa", "name":
//      "Vessic"}, ...]) or --language CODE=Name (registerLanguage), for codes no table can name;
//   3. any other ISO 639-1/639-3 or BCP-47 code that Node's Intl.DisplayNames can name in
//      English ("fil" Filipino, "yue" Cantonese, "sw-KE" Swahili (Kenya)); its canonical code is
//      Intl's (e.g. "cat" -> "ca").
// The name is what the training prompt says ("Translate this from Vessic to English").
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/** Languages named by the user (languages.json, --language), by lower-case code. */
const NAMED = new Map<string, Language & { source: string }>();
/** Languages Intl named, by lower-case key: the same object for the same language. */
const INTL = new Map<string, Language | null>();
const displayNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });

function fromIntl(key: string): Language | undefined {
  const k = key.toLowerCase();
  const hit = INTL.get(k);
  if (hit !== undefined) return hit ?? undefined;
  let l: Language | null = null;
  try {
    const code = Intl.getCanonicalLocales(key.replace(/_/g, '-'))[0];
    const name = code !== undefined ? displayNames.of(code) : undefined;
    if (code !== undefined && name !== undefined) {
      // the same language by another code ("cat" and "ca") is one object
      l = BY_KEY.get(code.toLowerCase()) ?? NAMED.get(code.toLowerCase()) ?? INTL.get(code.toLowerCase()) ?? { code, name, aliases: [] };
      INTL.set(code.toLowerCase(), l);
      if (code.toLowerCase() !== k && !l.aliases.includes(key)) l.aliases.push(key);
    }
  } catch {
    // not a well-formed BCP-47 tag
  }
  INTL.set(k, l);
  return l ?? undefined;
}

/** The language for a code or alias (case-insensitive), or undefined. */
export function findLanguage(key: string): Language | undefined {
  const k = key.trim();
  if (k === '') return undefined;
  return BY_KEY.get(k.toLowerCase()) ?? NAMED.get(k.toLowerCase()) ?? fromIntl(k);
}

/** The language for a code or alias; an unknown one is an ERR_LANG saying how to name it. */
export function language(key: string, where?: string): Language {
  const l = findLanguage(key);
  if (!l) {
    throw new PlastError(
      'ERR_LANG',
      `unknown language code "${key}"${where ? ` in ${where}` : ''}: not an ISO 639 / BCP-47 code that can be named (known without naming: ${LANGUAGES.map((x) => x.code).join(', ')}, ` +
        `their ISO 639-3/NTREX aliases such as arb, zho-CN, and any code Intl.DisplayNames names); name it in a languages.json beside the data ` +
        `([{"code": "${key}", "name": "..."}]) or with --language ${key}=Name`,
      { field: 'lang' },
    );
  }
  return l;
}

const CODE = /^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$/;

/** Names a language the tables cannot (`source` says where, for messages). A code the engine
 * already names differently is refused, as is a second, different name for the same code. */
export function registerLanguage(code: string, name: string, source = '--language'): Language {
  const c = code.trim();
  const n = name.trim();
  if (!CODE.test(c)) throw new PlastError('ERR_LANG', `${source}: "${code}" is not a language code (letters, then optional -subtags)`, { field: 'language' });
  if (n === '') throw new PlastError('ERR_LANG', `${source}: language "${c}" needs a name`, { field: 'language' });
  const prev = NAMED.get(c.toLowerCase()) ?? BY_KEY.get(c.toLowerCase());
  if (prev) {
    if (prev.name === n) return prev;
    throw new PlastError('ERR_LANG', `${source}: "${c}" is named ${n}, but it is already ${prev.name}${'source' in prev ? ` (${(prev as { source: string }).source})` : ''}`, { field: 'language' });
  }
  const l = { code: c, name: n, aliases: [], source };
  NAMED.set(c.toLowerCase(), l);
  INTL.delete(c.toLowerCase());
  return l;
}

/** "CODE=Name" (--language). */
export function parseLanguageOption(s: string): Language {
  const at = s.indexOf('=');
  if (at <= 0) throw new PlastError('ERR_LANG', `--language expects CODE=Name (e.g. xa=Vessic) but received "${s}"`, { field: 'language' });
  return registerLanguage(s.slice(0, at), s.slice(at + 1));
}

/** Registers the languages of a languages.json file: [{"code": "xa", "name": "Vessic"}, ...]. */
export function loadLanguagesFile(file: string): Language[] {
  let rows: unknown;
  try {
    rows = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${file}: not valid JSON (${(err as Error).message})`, { file, cause: err });
  }
  if (!Array.isArray(rows)) throw new PlastError('ERR_FORMAT', `${file}: expected a list of {"code", "name"} objects`, { file });
  return rows.map((r, i) => {
    const o = r as { code?: unknown; name?: unknown };
    if (typeof r !== 'object' || r === null || typeof o.code !== 'string' || typeof o.name !== 'string') {
      throw new PlastError('ERR_FORMAT', `${file}: entry ${i + 1} is not {"code": "...", "name": "..."}`, { file, field: String(i) });
    }
    return registerLanguage(o.code, o.name, file);
  });
}

/** Registers the languages.json beside a data file (in its directory), or in a data directory;
 * returns the file read, if any. */
export function languagesBeside(dataPath: string | string[]): string[] {
  const read: string[] = [];
  for (const p of Array.isArray(dataPath) ? dataPath : [dataPath]) {
    let dir: string;
    try {
      dir = statSync(p).isDirectory() ? p : dirname(p);
    } catch {
      continue; // the data reader reports a missing file
    }
    const f = join(dir, 'languages.json');
    if (!read.includes(f) && existsSync(f)) {
      loadLanguagesFile(f);
      read.push(f);
    }
  }
  return read;
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
