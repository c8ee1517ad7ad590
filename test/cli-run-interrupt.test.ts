/**
 * `larder run` under Ctrl-C, kills and concurrent runs, as real processes:
 * SIGINT mid-run stops it cleanly (exit 130, `cancelled: table … unchanged at
 * version N`, a `cancelled` metrics row, the table untouched); a run waits
 * for the run holding the pipeline's lease (or with `--no-wait` fails with
 * `PIPELINE_BUSY` naming it); a killed holder's lease lapses; and two runs
 * started at once do the work once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../src/delta/delta-table.js';
import { Engine } from '../src/engine/engine.js';
import { listRuns } from '../src/pipelines/list-runs.js';
import { pipelineLeaseName } from '../src/pipelines/pipeline-lease.js';
import { LARDER_LAUNCHER, runLarder } from './support/run-larder.js';
import {
  appendBatch,
  createSources,
  expectedRows,
  OUTPUT,
  PIPELINE,
  PIPELINE_SQL,
} from './workers/pipeline-workload.js';

let cwd: string;

// SLOW_ROWS > 0 makes the pipeline scan that many rows of range() before its output: a run that
// computes long enough to be interrupted or overlapped. The output is the same either way.
const CONFIG = `import { defineConfig } from 'larderjs/config';

const slow = Number(process.env.SLOW_ROWS ?? 0);
const sql = \`${PIPELINE_SQL}\`;

export default defineConfig({
  sources: {
    customers: { type: 'delta', path: 'data/customers', changeColumn: '_change_timestamp' },
    transactions: { type: 'delta', path: 'data/transactions', changeColumn: '_change_timestamp' },
  },
  entities: { customer: { keys: ['customer_id'] } },
  featureTables: { '${OUTPUT}': { entity: 'customer' } },
  pipelines: {
    ${PIPELINE}: {
      output: '${OUTPUT}',
      sources: ['customers', 'transactions'],
      sql: slow > 0
        ? \`SELECT * FROM (\${sql}) WHERE (SELECT count(*) FROM range(\${slow}) r(i) WHERE hash(i) = 0) >= 0\`
        : sql,
      incremental: { key: 'customer_id' },
    },
  },
});
`;

interface Child {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly stdout: () => string;
  /** Resolves once stderr matches `pattern`. */
  readonly waitForStderr: (pattern: RegExp) => Promise<void>;
  readonly exited: Promise<number | null>;
}

function startLarder(args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(process.execPath, [LARDER_LAUNCHER, ...args], {
    cwd,
    env: { ...process.env, LARDER_FROM_SOURCE: '1', LARDER_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    for (const w of waiters.filter((x) => x.pattern.test(err))) w.resolve();
  });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    waitForStderr: (pattern) =>
      pattern.test(err)
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            waiters.push({ pattern, resolve });
            void exited.then((code) =>
              reject(new Error(`larder exited (${code}) before ${pattern}: ${err}`)),
            );
          }),
  };
}

async function tableVersion(): Promise<number> {
  const engine = await Engine.open({ projectDir: cwd });
  try {
    const entry = await engine.metastore.getTable(engine.parseName(OUTPUT));
    return (await DeltaTable.open(entry!.location)).version;
  } finally {
    await engine.close();
  }
}

async function content(): Promise<unknown[][]> {
  const engine = await Engine.open({ projectDir: cwd });
  try {
    return (
      await engine.query(`SELECT customer_id, segment, n_tx, total FROM ${OUTPUT} ORDER BY customer_id`)
    ).rows as unknown[][];
  } finally {
    await engine.close();
  }
}

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'larder-cli-interrupt-'));
  await createSources(cwd);
  await appendBatch(cwd, 1);
  await writeFile(join(cwd, 'larder.config.ts'), CONFIG);
  const first = await runLarder(['run', PIPELINE], { cwd });
  expect(first.code, first.stderr).toBe(0);
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe('larder run, interrupted', () => {
  it('stops cleanly on Ctrl-C mid-run: exit 130, says the table is unchanged, records a cancelled run', async () => {
    await appendBatch(cwd, 2);
    const before = await tableVersion();
    const run = startLarder(['run', PIPELINE], { SLOW_ROWS: String(400_000_000_000) });
    await run.waitForStderr(/\[computing features\]/);
    run.child.kill('SIGINT');
    expect(await run.exited, run.stderr()).toBe(130);
    expect(run.stderr()).toContain(`cancelled: table ${OUTPUT} unchanged at version ${before}`);
    expect(await tableVersion()).toBe(before);

    const engine = await Engine.open({ projectDir: cwd });
    try {
      const [last] = await listRuns({ engine, pipeline: PIPELINE, limit: 1 });
      expect(last).toMatchObject({ status: 'cancelled', tableVersion: before });
    } finally {
      await engine.close();
    }
    // The next run catches up.
    const next = await runLarder(['run', PIPELINE], { cwd });
    expect(next.code, next.stderr).toBe(0);
    expect(await content()).toEqual(await expectedRows(cwd));
  }, 120_000);

  it('waits for the run holding the lease, or with --no-wait fails naming it', async () => {
    const engine = await Engine.open({ projectDir: cwd });
    const name = pipelineLeaseName(PIPELINE, OUTPUT);
    try {
      const held = await engine.metastore.acquireLease(name, 'other-run', 'build-box pid 4242', 600_000);
      expect(held.acquired).toBe(true);
      const busy = await runLarder(['run', PIPELINE, '--no-wait'], { cwd });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(
        /error \[PIPELINE_BUSY\]: pipeline "customer_totals" is being run by build-box pid 4242/,
      );

      await appendBatch(cwd, 3);
      const before = await tableVersion();
      const waiting = startLarder(['run', PIPELINE]);
      await waiting.waitForStderr(/waiting for the run held by build-box pid 4242/);
      expect(await tableVersion()).toBe(before);
      await engine.metastore.releaseLease(name, 'other-run');
      expect(await waiting.exited, waiting.stderr()).toBe(0);
      expect(waiting.stdout()).toContain(`now at version ${before + 1}`);
    } finally {
      await engine.close();
    }
  }, 120_000);

  it('goes ahead once the lease of a killed run lapses', async () => {
    await appendBatch(cwd, 4);
    const env = { LARDER_LEASE_TTL_MS: '1500' };
    const killed = startLarder(['run', PIPELINE], { ...env, SLOW_ROWS: String(400_000_000_000) });
    await killed.waitForStderr(/\[computing features\]/);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const next = await runLarder(['run', PIPELINE], { cwd, env });
    expect(next.code, next.stderr).toBe(0);
    expect(await content()).toEqual(await expectedRows(cwd));
  }, 120_000);

  it('does the work once when two runs start at once: one commits, the other waits and finds nothing new', async () => {
    await appendBatch(cwd, 5);
    const before = await tableVersion();
    const env = { SLOW_ROWS: String(1_000_000_000) };
    const runs = [
      startLarder(['run', PIPELINE, '--json'], env),
      startLarder(['run', PIPELINE, '--json'], env),
    ];
    const codes = await Promise.all(runs.map((r) => r.exited));
    expect(codes, runs.map((r) => r.stderr()).join('\n')).toEqual([0, 0]);
    const results = runs.map((r) => JSON.parse(r.stdout()) as { committed: boolean; attempts: number });
    expect(results.map((r) => r.committed).sort()).toEqual([false, true]);
    // Neither computed twice (no lost commit to start over from), and one waited for the other.
    expect(results.map((r) => r.attempts)).toEqual([1, 1]);
    expect(runs.filter((r) => /waiting for the run held by/.test(r.stderr()))).toHaveLength(1);
    expect(await tableVersion()).toBe(before + 1);
    expect(await content()).toEqual(await expectedRows(cwd));
  }, 180_000);
});
