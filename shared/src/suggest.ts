/**
 * "Did you mean": the known names closest to a mistyped one, for unknown commands, flags and
 * document keys. Damerau–Levenshtein distance (a swap of two letters counts once), accepting at
 * most 40% of the word's length changed so an unrelated word suggests nothing.
 */

/** The edit distance between `a` and `b`, with adjacent transpositions counting as one edit. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row !== undefined) row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The closest candidates to `word` (all at the same smallest distance), best first; none if too far. */
export function similar(word: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(1, Math.floor(word.length * 0.4));
  let best = limit + 1;
  let out: string[] = [];
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < best) {
      best = distance;
      out = [candidate];
    } else if (distance === best) out.push(candidate);
  }
  return out.sort();
}

/** ` (did you mean x?)`, ` (did you mean x or y?)`, or '' when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const close = similar(word, candidates);
  return close.length === 0 ? '' : ` (Did you mean ${close.join(' or ')}?)`;
}
