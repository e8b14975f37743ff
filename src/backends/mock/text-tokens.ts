// The mock's tokenizer rule: one token per run of letters/digits/underscore and one per other non-space character.
// Crude, but cheap and exact under cutting: a prefix cut at a token's end re-counts to exactly that many tokens.
// Hand-rolled rather than a Unicode regex: this runs over every answer and was the mock's hottest spot.

const SPACE = 0;
const WORD = 1;
const OTHER = 2;

const ASCII = new Uint8Array(128).map((_, c) => {
  if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) return SPACE;
  const word = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
  return word ? WORD : OTHER;
});
const WIDE_SPACE = /^\s$/u;
const WIDE_WORD = /^[\p{L}\p{N}]$/u;

function kindOf(cp: number): number {
  if (cp < 128) return ASCII[cp]!;
  const ch = String.fromCodePoint(cp);
  return WIDE_SPACE.test(ch) ? SPACE : WIDE_WORD.test(ch) ? WORD : OTHER;
}

/** Scans tokens until `limit` of them are complete; `end` is where the last kept token ends. */
function scan(text: string, limit: number): { end: number; tokens: number; cut: boolean } {
  const len = text.length;
  let n = 0;
  let end = 0;
  let i = 0;
  while (i < len) {
    const cp = text.codePointAt(i)!;
    const size = cp > 0xffff ? 2 : 1;
    const kind = kindOf(cp);
    if (kind === SPACE) {
      i += size;
      continue;
    }
    if (n === limit) return { end, tokens: n, cut: true };
    n++;
    i += size;
    if (kind === WORD) {
      while (i < len) {
        const c = text.codePointAt(i)!;
        if (kindOf(c) !== WORD) break;
        i += c > 0xffff ? 2 : 1;
      }
    }
    end = i;
  }
  return { end: len, tokens: n, cut: false };
}

/** How many tokens `text` has under the mock's rule. */
export function countTokens(text: string): number {
  return scan(text, Number.POSITIVE_INFINITY).tokens;
}

/** `text` cut after its `limit`-th token (`cut` says whether anything was dropped), with the tokens kept. */
export function cutAtTokens(text: string, limit: number): { text: string; tokens: number; cut: boolean } {
  const r = scan(text, limit);
  return { text: r.cut ? text.slice(0, r.end) : text, tokens: r.tokens, cut: r.cut };
}
