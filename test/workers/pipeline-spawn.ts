/** Start `pipeline-worker.ts` through tsx, with its stdout as lines. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const WORKER = resolve(import.meta.dirname, 'pipeline-worker.ts');

export interface PipelineWorker {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves when the worker prints a line equal to `text`. */
  waitFor(text: string): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
}

export function spawnPipelineWorker(args: readonly string[]): PipelineWorker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  let buffer = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.filter((x) => x.text === line)) w.resolve();
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
              reject(new Error(`pipeline worker exited (${code}) before "${text}": ${err}`)),
            );
          }),
  };
}
