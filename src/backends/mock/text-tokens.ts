// The mock's tokenizer rule: one token per run of letters/digits/underscore and one per other non-space character.
// Crude, but cheap and exact under cutting: a prefix cut at a token's end re-counts to exactly that many tokens.

const TOKEN = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;

/** How many tokens `text` has under the mock's rule. */
export function countTokens(text: string): number {
  TOKEN.lastIndex = 0;
  let n = 0;
  while (TOKEN.exec(text) !== null) n++;
  return n;
}

/** `text` cut after its `limit`-th token (`cut` says whether anything was dropped), with the tokens kept. */
export function cutAtTokens(text: string, limit: number): { text: string; tokens: number; cut: boolean } {
  TOKEN.lastIndex = 0;
  let n = 0;
  let end = 0;
  for (let m = TOKEN.exec(text); m !== null; m = TOKEN.exec(text)) {
    if (n === limit) return { text: text.slice(0, end), tokens: n, cut: true };
    n++;
    end = m.index + m[0].length;
  }
  return { text, tokens: n, cut: false };
}
