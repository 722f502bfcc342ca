// Whether data rows carry images (an "image" field): commands load a LLaVA checkpoint's vision
// tower only when their data needs it.
import { PlastError } from '../errors';
import { readJsonl } from './jsonl';
import { BadRow, badRow } from './rows';

/** True when any row of the JSONL files has a non-null "image". */
export function jsonlHasImages(files: readonly string[]): boolean {
  return files.some((f) => readJsonl(f).rows.some((r) => r.value['image'] !== undefined && r.value['image'] !== null));
}

/** Where a row's image is: its value in the data and the row that names it. */
export interface RowImage {
  source: string;
  file: string;
  line: number;
}

/**
 * Decodes every distinct image the rows name, once, before any work starts: rows whose image
 * cannot be read (missing, truncated, not an image, too large) become 'bad-image' rows instead of
 * failing a long run half way. `load` is the model's preprocessing (Model.imagePixels).
 */
export async function checkRowImages<T>(
  rows: readonly T[],
  imageOf: (row: T) => RowImage | undefined,
  load: (source: string, where: { file: string; line: number }) => Promise<unknown>,
): Promise<{ ok: T[]; bad: BadRow[] }> {
  const verdict = new Map<string, PlastError | null>();
  const ok: T[] = [];
  const bad: BadRow[] = [];
  for (const row of rows) {
    const im = imageOf(row);
    if (!im) {
      ok.push(row);
      continue;
    }
    const key = `${im.file}\0${im.source}`;
    let v = verdict.get(key);
    if (v === undefined) {
      try {
        await load(im.source, { file: im.file, line: im.line });
        v = null;
      } catch (err) {
        if (!(err instanceof PlastError) || err.code === 'ERR_INTERNAL') throw err;
        v = err;
      }
      verdict.set(key, v);
    }
    if (v === null) ok.push(row);
    else bad.push(badRow(im.file, im.line, 'bad-image', `image "${im.source.length > 80 ? im.source.slice(0, 77) + '...' : im.source}": ${stripWhere(v.message)}`, { column: 'image' }));
  }
  return { ok, bad };
}

/** A loader message without its leading "file:line: " (the bad row adds its own). */
function stripWhere(message: string): string {
  return message.replace(/^[^\s]+:\d+: /, '');
}
