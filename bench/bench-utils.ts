/**
 * Timing helpers shared by the benchmarks. Every figure is a median of
 * several runs, and a comparison runs the reference and Larder alternately
 * (ABBA) so that a noisy neighbour on a shared machine slows both alike.
 */

/** Run `fn` once and time it. */
export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** The median of some timings. */
export function middle(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Median of `repeat` runs. */
export async function median(fn: (run: number) => Promise<unknown>, repeat: number): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < repeat; run++) times.push((await time(() => fn(run))).ms);
  return middle(times);
}

/** Medians of a reference and of Larder, run alternately (ABBA): `[reference, larder]`. */
export async function paired(
  reference: (run: number) => Promise<unknown>,
  larder: (run: number) => Promise<unknown>,
  repeat: number,
): Promise<[number, number]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let run = 0; run < repeat; run++) {
    // ABBA order: neither side always runs right after the other's writes.
    if (run % 2 === 0) {
      a.push((await time(() => reference(run))).ms);
      b.push((await time(() => larder(run))).ms);
    } else {
      b.push((await time(() => larder(run))).ms);
      a.push((await time(() => reference(run))).ms);
    }
  }
  return [middle(a), middle(b)];
}
