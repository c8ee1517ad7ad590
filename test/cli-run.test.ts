/**
 * `larder run` and `larder runs` as users run them: real `node bin/larder.js`
 * processes in a project folder with a `larder.config.ts`, two Delta sources
 * and an incremental pipeline; a first full run, an incremental one, one
 * with nothing to do, a failing one, and the run history they leave.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LarderRun, runLarder } from './support/run-larder.js';
import {
  appendBatch,
  createSources,
  expectedRows,
  OUTPUT,
  PIPELINE_SQL,
} from './workers/pipeline-workload.js';

let cwd: string;

function larder(args: readonly string[]): Promise<LarderRun> {
  return runLarder(args, { cwd });
}

const CONFIG = `import { defineConfig } from 'larderjs/config';

export default defineConfig({
  sources: {
    customers: { type: 'delta', path: 'data/customers', changeColumn: '_change_timestamp' },
    transactions: { type: 'delta', path: 'data/transactions', changeColumn: '_change_timestamp' },
  },
  entities: { customer: { keys: ['customer_id'] } },
  featureTables: {
    '${OUTPUT}': { entity: 'customer', description: 'totals per customer' },
    'ml.features.broken': { entity: 'customer' },
  },
  pipelines: {
    customer_totals: {
      output: '${OUTPUT}',
      sources: ['customers', 'transactions'],
      sql: \`${PIPELINE_SQL}\`,
      incremental: { key: 'customer_id' },
    },
    broken: {
      output: 'ml.features.broken',
      sources: ['transactions'],
      sql: 'SELECT customer_id, amount FROM transactions',
    },
  },
});
`;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'larder-cli-run-'));
  await createSources(cwd);
  await appendBatch(cwd, 1);
  await writeFile(join(cwd, 'larder.config.ts'), CONFIG);
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe('larder run', () => {
  it('runs a pipeline fully the first time, creating its table, with progress on stderr', async () => {
    const run = await larder(['run', 'customer_totals']);
    expect(run.stderr).not.toMatch(/error/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^customer_totals: full run [0-9a-f-]{36} succeeded in \d+\.\d\d s\n/);
    expect(run.stdout).toContain('full because no earlier run of this pipeline is recorded in the table');
    expect(run.stdout).toMatch(/table ml\.features\.customer_totals now at version \d+ \(created\)/);
    expect(run.stdout).toContain('recorded in ml.features.feature_computation_metrics');
    // Not a terminal: plain progress lines, one per phase, no ANSI codes.
    expect(run.stderr).toMatch(/customer_totals \[reading sources\]/);
    expect(run.stderr).toMatch(/customer_totals \[recording metrics\]/);
    expect(run.stderr).not.toContain('\u001b[');
  });

  it('runs incrementally after the sources change, and prints the run as JSON', async () => {
    await appendBatch(cwd, 2);
    const run = await larder(['run', 'customer_totals', '--json', '-C', cwd]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({
      pipeline: 'customer_totals',
      mode: 'incremental',
      committed: true,
      status: 'success',
    });
    expect(result.numEntitiesProcessed).toBeGreaterThan(0);
    const table = await larder([
      'sql',
      `SELECT customer_id, segment, n_tx, total FROM ${OUTPUT} ORDER BY 1`,
      '--format',
      'json',
    ]);
    const rows = (JSON.parse(table.stdout) as Record<string, unknown>[]).map((r) => [
      String(r.customer_id),
      r.segment,
      String(r.n_tx),
      String(r.total),
    ]);
    expect(rows).toEqual(await expectedRows(cwd));
  });

  it('says so when nothing changed, and recomputes everything with --full', async () => {
    const idle = await larder(['run', 'customer_totals']);
    expect(idle.code).toBe(0);
    expect(idle.stdout).toMatch(/incremental run .* succeeded/);
    expect(idle.stdout).toMatch(/unchanged at version \d+ \(nothing changed\)/);
    const full = await larder(['run', 'customer_totals', '--full']);
    expect(full.code).toBe(0);
    expect(full.stdout).toContain('full because a full run was requested');
  });

  it('exits 1 naming an unknown pipeline, and a failed run with its cause', async () => {
    const unknown = await larder(['run', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error \[PIPELINE_NOT_FOUND\]: pipeline "nope" is not declared/m);
    const failed = await larder(['run', 'broken']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toMatch(
      /^error \[PIPELINE_FAILED\]: pipeline "broken" failed: .*same primary key/m,
    );
  });
});

describe('larder runs', () => {
  it('lists the runs newest first, filtered by pipeline and time', async () => {
    const all = await larder(['runs']);
    expect(all.code).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^started \(UTC\)\s+pipeline\s+mode\s+status\s+entities\s+source rows\s+seconds\s+version\s+error$/,
    );
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(1, 4))).toEqual([
      ['broken', 'full', 'failed'],
      ['customer_totals', 'full', 'success'],
      ['customer_totals', 'incremental', 'success'],
      ['customer_totals', 'incremental', 'success'],
      ['customer_totals', 'full', 'success'],
    ]);

    const json = await larder([
      'runs',
      '--pipeline',
      'customer_totals',
      '--since',
      '1h',
      '--limit',
      '2',
      '--json',
    ]);
    expect(json.code).toBe(0);
    const runs = JSON.parse(json.stdout) as { pipeline: string; mode: string; runTimestamp: string }[];
    expect(runs.map((r) => [r.pipeline, r.mode])).toEqual([
      ['customer_totals', 'full'],
      ['customer_totals', 'incremental'],
    ]);
    expect(Date.parse(runs[0]!.runTimestamp)).toBeGreaterThanOrEqual(Date.parse(runs[1]!.runTimestamp));

    const future = await larder(['runs', '--since', '2999-01-01']);
    expect(future.stdout).toBe('no pipeline runs recorded\n');
  });

  it('exits 1 on a --since it cannot read', async () => {
    const run = await larder(['runs', '--since', 'yesterday']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--since.*expected a duration/);
  });
});
