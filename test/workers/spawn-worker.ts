/** Start a worker script (default `table-worker.ts`) through tsx, with its stdout as lines. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The Delta table worker of the crash and concurrency tests. */
export const TABLE_WORKER = resolve(import.meta.dirname, 'table-worker.ts');

/** The pipeline worker of the pipeline failure tests. */
export const PIPELINE_WORKER = resolve(import.meta.dirname, 'pipeline-worker.ts');

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves when the worker prints a line equal to `text`. */
  waitFor(text: string): Promise<void>;
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
}

export function spawnWorker(args: readonly string[], worker: string = TABLE_WORKER): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  let buffer = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.filter((x) => x.text === line)) w.resolve();
      nl = buffer.indexOf('\n');
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  return {
    child,
    lines,
    exited,
    stderr: () => err,
    waitFor: (text) =>
      lines.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolveWait, reject) => {
            waiters.push({ text, resolve: resolveWait });
            void exited.then(({ code }) =>
              reject(new Error(`worker exited (${code}) before "${text}": ${err}`)),
            );
          }),
  };
}
