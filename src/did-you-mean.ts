/**
 * "Did you mean" suggestions for misspelt names: the known name closest to
 * what was written, by edit distance (optimal string alignment, so a swap of
 * two neighbouring letters costs one), when it is close enough to be a typo.
 */

/**
 * The known name nearest to `written`, or undefined when none is within
 * `max(2, a third of its length)` edits. Case is ignored.
 *
 * @example
 * didYouMean('featureTable', ['sources', 'featureTables', 'pipelines']); // 'featureTables'
 * didYouMean('xyz', ['sources']); // undefined
 */
export function didYouMean(written: string, known: Iterable<string>): string | undefined {
  const target = written.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const distance = editDistance(target, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(2, Math.floor(Math.max(written.length, best.length) / 3));
  return bestDistance > 0 && bestDistance <= allowed ? best : undefined;
}

/** `' (did you mean "x"?)'` or `''`: ready to append to a message. */
export function didYouMeanSuffix(written: string, known: Iterable<string>): string {
  const suggestion = didYouMean(written, known);
  return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
}

function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        d[(i - 1) * cols + j]! + 1,
        d[i * cols + j - 1]! + 1,
        d[(i - 1) * cols + j - 1]! + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = value;
    }
  }
  return d[rows * cols - 1]!;
}
