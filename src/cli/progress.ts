/**
 * Progress reporting for long CLI commands (pipeline runs, backfills): one
 * interface, two renderings chosen by the output stream.
 *
 * - On a terminal (`stream.isTTY`), a `cli-progress` bar redrawn in place:
 *   label, phase, bar and percentage when a total is known, rows and files
 *   processed, elapsed time and ETA. Lines passed to `log` print above it.
 * - The ETA is estimated only from real progress of the current phase: the
 *   files it has done since it began (`files` of `filesTotal`) and the time
 *   that took. Steps of unlike phases (reading, computing, writing) say
 *   nothing about the time left, so no ETA is shown from them, nor before a
 *   phase has done any file.
 * - Anywhere else (a pipe, a file, CI logs), plain lines with no ANSI codes:
 *   at most one per second while the state changes, one at once for every
 *   phase change, and the summary when it stops.
 *
 * Invariants: progress goes to `stream` (default `process.stderr`), so a
 * command's stdout stays data; `stop` is idempotent and after it nothing is
 * written except by `log`, which always writes.
 */
import cliProgress from 'cli-progress';

/** Options of `createProgress`. */
export interface ProgressOptions {
  /** What is progressing (`customer_features`, `backfill 2024-05`). */
  readonly label: string;
  /** Where to write; default `process.stderr`. */
  readonly stream?: NodeJS.WriteStream;
  /** How many units the work has, when known. */
  readonly total?: number;
  /** The name of a unit of `done`/`total` (default `steps`). */
  readonly unit?: string;
  /** The clock, in ms (default `Date.now`); tests give their own. */
  readonly clock?: () => number;
}

/** A change of state; absent fields keep their last value. */
export interface ProgressState {
  /** Units done (of `total`). */
  readonly done?: number;
  readonly total?: number;
  /** Rows processed so far. */
  readonly rows?: number;
  /** Files processed so far (of `filesTotal`). */
  readonly files?: number;
  readonly filesTotal?: number;
  /** What is happening now (`reading sources`, `merging`, `committing`). */
  readonly phase?: string;
}

/** A running progress display. */
export interface Progress {
  update(state: ProgressState): void;
  /** Print a line (above the bar on a terminal). */
  log(line: string): void;
  /** End the display, printing `summary` (or the last state) as the final line. */
  stop(summary?: string): void;
}

/** Least time between two plain progress lines (ms). */
const PLAIN_INTERVAL_MS = 1000;

interface MutableState {
  done?: number;
  total?: number;
  rows?: number;
  files?: number;
  filesTotal?: number;
  phase?: string;
  /** When the current phase began, and how many files were done then. */
  phaseStartedAt?: number;
  phaseFilesAtStart?: number;
}

/**
 * Start a progress display on `options.stream`.
 *
 * @example
 * const progress = createProgress({ label: 'customer_features', total: 12, unit: 'files' });
 * progress.update({ phase: 'reading sources' });
 * progress.update({ done: 3, rows: 120_000, files: 3, filesTotal: 12 });
 * progress.log('source raw_transactions: 3 new versions');
 * progress.stop('customer_features: 480,000 rows in 12 files');
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const state: MutableState = options.total === undefined ? {} : { total: options.total };
  const unit = options.unit ?? 'steps';
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  return stream.isTTY === true
    ? ttyProgress(stream, options.label, unit, state, startedAt, clock)
    : plainProgress(stream, options.label, unit, state, startedAt, clock);
}

/** Apply `change` to `state`, starting the phase's clock when the phase changes. */
function applyChange(state: MutableState, change: ProgressState, now: number): boolean {
  const phaseChanged = change.phase !== undefined && change.phase !== state.phase;
  Object.assign(state, definedFields(change));
  if (phaseChanged || state.phaseStartedAt === undefined) {
    state.phaseStartedAt = now;
    // Files reported with the phase change itself were done before the phase's clock started.
    state.phaseFilesAtStart = state.files ?? 0;
  }
  if ((state.files ?? 0) < (state.phaseFilesAtStart ?? 0)) state.phaseFilesAtStart = state.files ?? 0;
  return phaseChanged;
}

function plainProgress(
  stream: NodeJS.WritableStream,
  label: string,
  unit: string,
  state: MutableState,
  startedAt: number,
  clock: () => number,
): Progress {
  let lastLine = Number.NEGATIVE_INFINITY;
  let stopped = false;
  const print = (text: string): void => {
    stream.write(`${text}\n`);
  };
  return {
    update(change) {
      if (stopped) return;
      const now = clock();
      const phaseChanged = applyChange(state, change, now);
      if (phaseChanged || now - lastLine >= PLAIN_INTERVAL_MS) {
        lastLine = now;
        print(describeState(label, unit, state, startedAt, now));
      }
    },
    log(line) {
      print(line);
    },
    stop(summary) {
      if (stopped) return;
      stopped = true;
      print(summary ?? describeState(label, unit, state, startedAt, clock()));
    },
  };
}

function ttyProgress(
  stream: NodeJS.WritableStream,
  label: string,
  unit: string,
  state: MutableState,
  startedAt: number,
  clock: () => number,
): Progress {
  const multibar = new cliProgress.MultiBar(
    {
      stream,
      // The line is ours: cli-progress only draws the bar graphic and redraws in place.
      format: (barOptions, params) => {
        const fraction = progressFraction(state);
        const bar = fraction === undefined ? '' : `${cliProgress.Format.BarFormat(fraction, barOptions)} `;
        return `${bar}${describeState(label, unit, state, startedAt, params.stopTime ?? clock())}`;
      },
      barsize: 24,
      hideCursor: false,
      gracefulExit: false,
      linewrap: false,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = multibar.create(1, 0);
  let stopped = false;
  return {
    update(change) {
      if (stopped) return;
      applyChange(state, change, clock());
      // The value only tells cli-progress something changed; the text comes from `state`.
      bar.update(progressFraction(state) ?? 0);
    },
    log(line) {
      if (stopped) {
        stream.write(`${line}\n`);
        return;
      }
      multibar.log(`${line}\n`);
    },
    stop(summary) {
      if (stopped) return;
      stopped = true;
      multibar.update(); // flushes pending log lines above the bar
      multibar.stop();
      if (summary !== undefined) stream.write(`${summary}\n`);
    },
  };
}

function definedFields(change: ProgressState): ProgressState {
  return Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)) as ProgressState;
}

/** Done as a fraction of the total: units if both are known, else files. */
function progressFraction(state: MutableState): number | undefined {
  if (state.done !== undefined && state.total !== undefined && state.total > 0) {
    return Math.min(1, state.done / state.total);
  }
  if (state.files !== undefined && state.filesTotal !== undefined && state.filesTotal > 0) {
    return Math.min(1, state.files / state.filesTotal);
  }
  return undefined;
}

/** `label [phase]: 3/12 files (25%) | 120,000 rows | 3/12 files | 4s elapsed | ETA 12s`. */
function describeState(
  label: string,
  unit: string,
  state: MutableState,
  startedAt: number,
  now: number,
): string {
  const parts: string[] = [];
  if (state.done !== undefined) {
    const of = state.total === undefined ? '' : `/${count(state.total)}`;
    const pct =
      state.total === undefined || state.total <= 0
        ? ''
        : ` (${Math.floor(Math.min(1, state.done / state.total) * 100)}%)`;
    parts.push(`${count(state.done)}${of} ${unit}${pct}`);
  }
  if (state.rows !== undefined) parts.push(`${count(state.rows)} rows`);
  if (state.files !== undefined) {
    parts.push(
      `${count(state.files)}${state.filesTotal === undefined ? '' : `/${count(state.filesTotal)}`} files`,
    );
  }
  parts.push(`${duration(now - startedAt)} elapsed`);
  const eta = phaseEta(state, now);
  if (eta !== undefined) parts.push(`ETA ${duration(eta)}`);
  return `${label}${state.phase === undefined ? '' : ` [${state.phase}]`}: ${parts.join(' | ')}`;
}

/**
 * The time left in the current phase at the rate its files have been done
 * since it began; undefined when the phase has done none yet, or all.
 */
function phaseEta(state: MutableState, now: number): number | undefined {
  const { files, filesTotal, phaseStartedAt, phaseFilesAtStart } = state;
  if (files === undefined || filesTotal === undefined || phaseStartedAt === undefined) return undefined;
  const doneInPhase = files - (phaseFilesAtStart ?? 0);
  const elapsed = now - phaseStartedAt;
  if (doneInPhase <= 0 || files >= filesTotal || elapsed <= 0) return undefined;
  return ((filesTotal - files) * elapsed) / doneInPhase;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** `850ms`, `12s`, `3m05s`, `1h02m`. */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
