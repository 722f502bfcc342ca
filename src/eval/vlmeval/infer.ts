// Answer extraction by exact matching, a port of VLMEvalKit's can_infer / can_infer_option /
// can_infer_text (open-compass/VLMEvalKit, vlmeval/utils/matching_util.py, the version the paper's
// evaluation used: no position rule, no length cap on the text match). Under VLMEvalKit's
// `exact_matching` judge an answer neither function matches is a miss ('Z', hit 0); here it is
// `undefined` so the report can count it as unmatched — it is never guessed.

/** Option letter -> option text, in letter order (VLMEvalKit's build_choices). */
export type Choices = Record<string, string>;

// Python's str.split() whitespace (str.isspace), which differs from JS \s: \x1c-\x1f and \x85 are
// whitespace there, U+FEFF is not.
const PY_SPACE = /[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

const REJECT_TO_ANSWER = [
  "Sorry, I can't help with images of people yet.",
  "I can't process this file.",
  "I'm sorry, but without the image provided",
  'Cannot determine the answer',
];

/** Python's `s.split()`: runs of whitespace separate, no empty pieces. */
function pySplit(s: string): string[] {
  return s.split(PY_SPACE).filter((x) => x !== '');
}

/** can_infer_option: exactly one option letter standing alone (after punctuation becomes space);
 * 'Z' for the refusals and for a lone Z; false otherwise. (The "A might be a quantifier" check
 * runs only with VERBOSE set in VLMEvalKit, so by default it does not.) */
export function canInferOption(answer: string, choices: Choices): string | false {
  if (answer.includes('Failed to obtain answer via API')) return false;
  for (const err of REJECT_TO_ANSWER) if (answer.includes(err)) return 'Z';
  let mod = answer;
  for (const c of '.()[],:;!*#{}') mod = mod.split(c).join(' ');
  const splits = pySplit(mod).map((x) => x.trim());
  const letters = Object.keys(choices);
  const count = letters.filter((c) => splits.includes(c)).length;
  if (count === 1) {
    for (const ch of letters) if (splits.includes(ch)) return ch;
  } else if (count === 0 && splits.includes('Z')) {
    return 'Z';
  }
  return false;
}

/** can_infer_text: the one option whose text (lower-cased) occurs in the answer (lower-cased). */
export function canInferText(answer: string, choices: Choices): string | false {
  const a = answer.toLowerCase();
  const cands = Object.keys(choices).filter((k) => a.includes(String(choices[k]).toLowerCase()));
  return cands.length === 1 ? cands[0]! : false;
}

/** can_infer: the letter, then the option text. */
export function canInfer(answer: string, choices: Choices): string | false {
  const opt = canInferOption(answer, choices);
  return opt !== false ? opt : canInferText(answer, choices);
}
