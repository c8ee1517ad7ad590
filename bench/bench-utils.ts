/**
 * Timing helpers shared by the benchmarks. Every figure is a median of
 * several runs, and a comparison runs the reference and Larder alternately
 * (ABBA) so that a noisy neighbour on a shared machine slows both alike.
 * `pairedSides` and `soloSide` run each side in its own child process
 * (side-runner.ts) so that each figure comes with that side's own peak RSS.
 */

/** Run `fn` once and time it. */
export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** The median of some timings (the mean of the two middle ones for an even count). */
export function middle(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 0 && sorted.length > 0) return (sorted[half - 1]! + sorted[half]!) / 2;
  return sorted[half] ?? Number.NaN;
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

/** One side of a comparison, built in its own child process by a `SideFactory`. */
export interface Side {
  /** Work before a timed run that is not part of it (a fresh copy of a table). */
  prepare?(run: number): Promise<void>;
  /** The timed work; what it returns is passed back to the parent (counts, file numbers). */
  run(run: number): Promise<unknown>;
  close?(): Promise<void>;
}

/** Builds a side from JSON arguments (setup, not timed). A sides module exports `sides: Record<string, SideFactory>`. */
export type SideFactory = (args: Record<string, unknown>) => Promise<Side>;

/** Parent to child. */
export type SideRequest =
  | { type: 'setup'; args: Record<string, unknown> }
  | { type: 'run'; run: number }
  | { type: 'finish' };
/** Child to parent. */
export type SideMessage =
  | { type: 'listening' }
  | { type: 'ready'; rssBytes: number }
  | { type: 'ran'; ms: number; detail: unknown }
  | { type: 'finished'; peakRssBytes: number }
  | { type: 'error'; message: string };

/** A side running in a child process. */
export interface SideProcess {
  /** One timed run: its milliseconds (timed inside the child) and what it returned. */
  run(run: number): Promise<{ ms: number; detail: unknown }>;
  /** End the child; its peak RSS over setup and every run, in bytes. */
  finish(): Promise<number>;
}

/**
 * Start the side `name` of the module `module` (a file path) in a child
 * process with its own DuckDB, so that its peak RSS is its own.
 */
export async function startSide(
  module: string,
  name: string,
  args: Record<string, unknown> = {},
): Promise<SideProcess> {
  const { fork } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const runner = fileURLToPath(new URL('./side-runner.ts', import.meta.url));
  const child = fork(runner, [module, name], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let pending: { resolve: (m: SideMessage) => void; reject: (e: Error) => void } | undefined;
  const next = () =>
    new Promise<SideMessage>((resolve, reject) => {
      pending = { resolve, reject };
    });
  child.on('message', (message: SideMessage) => {
    const waiting = pending;
    pending = undefined;
    if (message.type === 'error') waiting?.reject(new Error(`side ${name}: ${message.message}`));
    else waiting?.resolve(message);
  });
  child.on('exit', (code) => {
    pending?.reject(new Error(`side ${name} exited with code ${code}`));
    pending = undefined;
  });
  const listening = next();
  await listening;
  const ready = next();
  child.send({ type: 'setup', args } satisfies SideRequest);
  await ready;
  return {
    async run(run) {
      const answer = next();
      child.send({ type: 'run', run } satisfies SideRequest);
      const message = await answer;
      if (message.type !== 'ran') throw new Error(`side ${name}: unexpected ${message.type}`);
      return { ms: message.ms, detail: message.detail };
    },
    async finish() {
      const answer = next();
      child.send({ type: 'finish' } satisfies SideRequest);
      const message = await answer;
      if (message.type !== 'finished') throw new Error(`side ${name}: unexpected ${message.type}`);
      return message.peakRssBytes;
    },
  };
}

/** What a comparison of two sides measured. */
export interface PairedSides {
  readonly referenceMs: number;
  readonly larderMs: number;
  readonly referencePeakRss: number;
  readonly larderPeakRss: number;
  /** What each side's runs returned, in run order. */
  readonly referenceDetails: unknown[];
  readonly larderDetails: unknown[];
}

/**
 * Medians of a reference side and a Larder side, each in its own child
 * process, run alternately (ABBA), with each process's peak RSS.
 */
export async function pairedSides(
  module: string,
  reference: { name: string; args?: Record<string, unknown> },
  larder: { name: string; args?: Record<string, unknown> },
  repeat: number,
  /** Called after each run (long benchmarks print as they go). */
  onRun?: (side: 'reference' | 'larder', run: number, ms: number, detail: unknown) => void,
): Promise<PairedSides> {
  const a = await startSide(module, reference.name, reference.args);
  const b = await startSide(module, larder.name, larder.args);
  const aMs: number[] = [];
  const bMs: number[] = [];
  const aDetails: unknown[] = [];
  const bDetails: unknown[] = [];
  const runA = async (run: number) => {
    const r = await a.run(run);
    onRun?.('reference', run, r.ms, r.detail);
    aMs.push(r.ms);
    aDetails.push(r.detail);
  };
  const runB = async (run: number) => {
    const r = await b.run(run);
    onRun?.('larder', run, r.ms, r.detail);
    bMs.push(r.ms);
    bDetails.push(r.detail);
  };
  for (let run = 0; run < repeat; run++) {
    // ABBA order: neither side always runs right after the other's writes.
    if (run % 2 === 0) {
      await runA(run);
      await runB(run);
    } else {
      await runB(run);
      await runA(run);
    }
  }
  return {
    referenceMs: middle(aMs),
    larderMs: middle(bMs),
    referencePeakRss: await a.finish(),
    larderPeakRss: await b.finish(),
    referenceDetails: aDetails,
    larderDetails: bDetails,
  };
}

/** Median and peak RSS of one side alone, in its own child process. */
export async function soloSide(
  module: string,
  side: { name: string; args?: Record<string, unknown> },
  repeat: number,
): Promise<{ ms: number; peakRss: number; details: unknown[] }> {
  const child = await startSide(module, side.name, side.args);
  const times: number[] = [];
  const details: unknown[] = [];
  for (let run = 0; run < repeat; run++) {
    const r = await child.run(run);
    times.push(r.ms);
    details.push(r.detail);
  }
  return { ms: middle(times), peakRss: await child.finish(), details };
}

/** Bytes as MiB (or GiB above 10 GiB), for tables. */
export function formatBytes(bytes: number): string {
  const mib = bytes / 2 ** 20;
  return mib >= 10_240 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(0)} MiB`;
}
