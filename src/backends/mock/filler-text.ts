import type { Prng } from './prng.ts';

// Plain, inoffensive words: the filler only has to look like prose and be deterministic.
const WORDS = (
  'the a this that each every some one model answer request batch result message value idea ' +
  'question detail example system process pattern record signal context summary step approach ' +
  'option reason point case is was seems remains shows follows suggests describes covers supports ' +
  'needs keeps gives makes clear simple useful careful steady brief complete likely possible ' +
  'general specific quietly often usually again here now still also then and but so with for about ' +
  'from into over under between through without because while'
).split(' ');

/** `count` words of deterministic prose: capitalised sentences of 5–14 words, occasional commas. */
export function fillerText(rng: Prng, count: number): string {
  const out: string[] = [];
  let left = count;
  while (left > 0) {
    const len = Math.min(left, 5 + rng.int(10));
    let s = '';
    for (let i = 0; i < len; i++) {
      const w = rng.pick(WORDS);
      if (i === 0) s = w.charAt(0).toUpperCase() + w.slice(1);
      else s += i > 2 && i < len - 2 && rng.int(8) === 0 ? `, ${w}` : ` ${w}`;
    }
    out.push(`${s}.`);
    left -= len;
  }
  return out.join(' ');
}

/** A word of the filler vocabulary (used for sample strings). */
export function fillerWord(rng: Prng): string {
  return rng.pick(WORDS);
}
