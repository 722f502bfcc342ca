// Whether data rows carry images (an "image" field): commands load a LLaVA checkpoint's vision
// tower only when their data needs it.
import { readJsonl } from './jsonl';

/** True when any row of the JSONL files has a non-null "image". */
export function jsonlHasImages(files: readonly string[]): boolean {
  return files.some((f) => readJsonl(f).rows.some((r) => r.value['image'] !== undefined && r.value['image'] !== null));
}
