import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.js';

/** A real writable stream that keeps what is written; `tty` makes it look like a terminal. */
function collector(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  if (tty) Object.assign(stream, { isTTY: true, columns: 80 });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ANSI = /\u001b\[/;

describe('createProgress on a stream that is not a terminal', () => {
  it('prints plain lines: at most one a second, every phase change, and the summary', async () => {
    const out = collector(false);
    const progress = createProgress({
      label: 'customer_features',
      stream: out.stream,
      total: 4,
      unit: 'files',
    });
    progress.update({ phase: 'reading', done: 0 });
    progress.update({ done: 1, rows: 1500 }); // within the second: not printed
    progress.update({ phase: 'merging', done: 2, files: 2, filesTotal: 4 }); // phase change: printed
    progress.update({ done: 3 }); // not printed
    await sleep(1050);
    progress.update({ done: 3, rows: 4000 }); // a second later: printed
    progress.log('source raw_transactions: 3 new versions');
    progress.stop('customer_features: 4,000 rows in 4 files');
    progress.stop('again'); // idempotent
    progress.update({ done: 4 }); // after stop: ignored
    const lines = out.text().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^customer_features \[reading\]: 0\/4 files \(0%\) \| \d+ms elapsed$/);
    expect(lines[1]).toMatch(
      /^customer_features \[merging\]: 2\/4 files \(50%\) \| 1,500 rows \| 2\/4 files \| \d+ms elapsed$/,
    );
    expect(lines[2]).toMatch(
      /^customer_features \[merging\]: 3\/4 files \(75%\) \| 4,000 rows \| 2\/4 files \| 1s elapsed$/,
    );
    expect(lines.slice(3)).toEqual([
      'source raw_transactions: 3 new versions',
      'customer_features: 4,000 rows in 4 files',
      '',
    ]);
    expect(out.text()).not.toMatch(ANSI);
  });

  it('shows an ETA only from the files the current phase has done, never from steps of unlike phases', () => {
    const out = collector(false);
    let now = 0;
    const progress = createProgress({
      label: 'customer_features',
      stream: out.stream,
      total: 4,
      clock: () => now,
    });
    // The run of the issue: a 24 ms read, then an 11 s compute. A steps-based ETA said 72 ms.
    progress.update({ phase: 'reading sources', done: 0 });
    now = 24;
    progress.update({ phase: 'computing features', done: 1 });
    now = 11_024;
    progress.update({ phase: 'writing the table', done: 2, files: 0, filesTotal: 10 });
    now = 13_024; // 4 of 10 files in 2 s: 6 left at 2 files a second
    progress.update({ files: 4 });
    now = 14_524;
    progress.update({ phase: 'recording metrics', done: 3, files: 10 });
    progress.stop();
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toEqual([
      'customer_features [reading sources]: 0/4 steps (0%) | 0ms elapsed',
      'customer_features [computing features]: 1/4 steps (25%) | 24ms elapsed',
      'customer_features [writing the table]: 2/4 steps (50%) | 0/10 files | 11s elapsed',
      'customer_features [writing the table]: 2/4 steps (50%) | 4/10 files | 13s elapsed | ETA 3s',
      'customer_features [recording metrics]: 3/4 steps (75%) | 10/10 files | 15s elapsed',
      'customer_features [recording metrics]: 3/4 steps (75%) | 10/10 files | 15s elapsed',
    ]);
  });

  it('ends with the last state when stopped without a summary, and works without a total', () => {
    const out = collector(false);
    const progress = createProgress({ label: 'backfill', stream: out.stream });
    progress.update({ rows: 10 });
    progress.update({ rows: 20, files: 1 });
    progress.stop();
    expect(out.text().split('\n')).toEqual([
      expect.stringMatching(/^backfill: 10 rows \| \d+ms elapsed$/),
      expect.stringMatching(/^backfill: 20 rows \| 1 files \| \d+ms elapsed$/),
      '',
    ]);
  });
});

describe('createProgress on a terminal', () => {
  it('draws a cli-progress bar with rows, files, elapsed time and ETA, logs above it and prints the summary', async () => {
    const out = collector(true);
    const progress = createProgress({
      label: 'customer_features',
      stream: out.stream,
      total: 4,
      unit: 'files',
    });
    progress.update({ phase: 'merging', done: 1, rows: 1500, files: 1, filesTotal: 4 });
    await sleep(250); // the bar redraws on a timer
    progress.log('source raw_transactions: 3 new versions');
    progress.update({ done: 2, rows: 3000, files: 2 });
    progress.stop('customer_features: 3,000 rows in 2 files');
    const text = out.text();
    expect(text).toMatch(ANSI);
    expect(text).toContain('customer_features [merging]: 1/4 files (25%) | 1,500 rows | 1/4 files |');
    expect(text).toContain('customer_features [merging]: 2/4 files (50%) | 3,000 rows | 2/4 files |');
    expect(text).toMatch(/ETA \d+/);
    expect(text).toContain('█'); // the bar graphic
    expect(text.indexOf('source raw_transactions: 3 new versions')).toBeLessThan(
      text.lastIndexOf('2/4 files (50%)'),
    );
    expect(text.endsWith('customer_features: 3,000 rows in 2 files\n')).toBe(true);
  });
});
