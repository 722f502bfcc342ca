// Tokenizing a prompt made of tagged segments (template text, the question, the target) and
// knowing which tokens came from which segment, while tokenizing the whole string at once as HF
// does. Token k belongs to the segment during which it became fixed: the boundary after segment s
// is the longest common prefix of ids(full text) and ids(text up to s). A token that straddles a
// boundary goes to the later segment.
import { TextTokenizer } from '../model/tokenizer';

export interface Segment<Tag extends string = string> {
  text: string;
  tag: Tag;
  /** Part of a complete rendering (a chat template's, which prints BOS itself where it wants
   * one): a prompt with such a segment is tokenized without the tokenizer's own special tokens,
   * as apply_chat_template(tokenize=True) does. */
  bare?: boolean;
}

export interface EncodedSegments<Tag extends string = string> {
  ids: number[];
  /** Per token, the tag of its segment ('special' for BOS/EOS added by the tokenizer). */
  tags: (Tag | 'special')[];
}

export function encodeSegments<Tag extends string>(
  tok: TextTokenizer,
  segments: Segment<Tag>[],
  opts: { addSpecialTokens?: boolean } = {},
): EncodedSegments<Tag> {
  const add = opts.addSpecialTokens ?? !segments.some((s) => s.bare);
  const full = segments.map((s) => s.text).join('');
  const ids = tok.encode(full, { addSpecialTokens: add });
  const tags: (Tag | 'special')[] = new Array(ids.length).fill('special');
  // Leading special tokens (BOS) are those the tokenizer adds to an empty string.
  const lead = add ? tok.encode('', { addSpecialTokens: true }).length : 0;
  let start = Math.min(lead, ids.length);
  let text = '';
  segments.forEach((seg, i) => {
    text += seg.text;
    let end: number;
    if (i === segments.length - 1) {
      end = ids.length;
      // trailing special tokens the post-processor appends stay 'special'
      const trail = add ? tok.encode('', { addSpecialTokens: true }).length - lead : 0;
      end -= Math.max(0, trail);
    } else {
      const prefix = tok.encode(text, { addSpecialTokens: add });
      end = lead;
      const n = Math.min(prefix.length, ids.length);
      while (end < n && prefix[end] === ids[end]) end++;
      // the last token of the prefix may still merge with what follows: it is settled only if
      // the full encoding agrees beyond it, which the common-prefix length already tells.
    }
    for (let k = start; k < Math.max(start, end); k++) tags[k] = seg.tag;
    start = Math.max(start, end);
  });
  return { ids, tags };
}
