/**
 * `larder tables`, `larder describe` and `larder history` as users run them:
 * real `node bin/larder.js` processes on a temporary project whose SQLite
 * catalog and Delta tables this file creates first (a feature table written
 * twice, a plain table, a table whose folder is gone, a view).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureTableInfo } from '../src/catalog/metastore.js';
import { PostgresMetastore } from '../src/catalog/postgres/postgres-metastore.js';
import { SqliteMetastore } from '../src/catalog/sqlite/sqlite-metastore.js';
import { DeltaTable } from '../src/delta/delta-table.js';
import { Engine } from '../src/engine/engine.js';
import { FeatureStore } from '../src/features/feature-store.js';
import { dropTestSchema, TEST_POSTGRES_URL } from './support/postgres.js';
import { type LarderRun, runLarder } from './support/run-larder.js';

let projectDir: string;
let otherDir: string;
/** Commit times (ms) of the feature table's versions 0, 1, 2. */
let commitTimes: number[];

const info: FeatureTableInfo = {
  primaryKeys: ['customer_id', 'feature_date'],
  timeseriesColumn: 'feature_date',
  partitionColumns: ['feature_date'],
  clusterBy: [],
  owner: 'ml-team',
  features: [
    { name: 'n_tx', type: 'long', description: 'transactions that day' },
    { name: 'avg_amount', type: 'double' },
  ],
  lineage: { pipeline: 'customer_features', sources: ['raw_transactions'] },
};

/** Run `larder …args` with `cwd` as working folder (default: an empty folder, so `-C` matters). */
function larder(args: readonly string[], cwd: string = otherDir): Promise<LarderRun> {
  return runLarder(args, { cwd });
}

/** Run, expect success with nothing on stderr, and parse stdout as JSON. */
async function json(args: readonly string[]): Promise<unknown> {
  const run = await larder([...args, '--json', '-C', projectDir]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout);
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

beforeAll(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'larder-cli-tables-'));
  otherDir = await mkdtemp(join(tmpdir(), 'larder-cli-tables-cwd-'));
  const metastore = await SqliteMetastore.open(join(projectDir, '.larder', 'catalog.db'));
  const engine = await Engine.open({ projectDir, metastore });
  try {
    const name = engine.parseName('ml.churn_features.customer_features');
    const location = engine.defaultLocation(name);
    const table = await DeltaTable.create(location, {
      schema: [
        { name: 'customer_id', type: 'long', nullable: false },
        { name: 'feature_date', type: 'date', nullable: false },
        { name: 'n_tx', type: 'long' },
        { name: 'avg_amount', type: 'double' },
      ],
      partitionColumns: ['feature_date'],
    });
    await table.append(
      "SELECT range AS customer_id, DATE '2024-05-01' AS feature_date, range * 2 AS n_tx, 1.5 AS avg_amount FROM range(100)",
    );
    await table.merge({
      source:
        "SELECT range AS customer_id, DATE '2024-05-01' AS feature_date, 7 AS n_tx, 2.5 AS avg_amount FROM range(90, 110)",
      on: ['customer_id', 'feature_date'],
    });
    commitTimes = (await table.history()).sort((a, b) => a.version - b.version).map((h) => h.timestamp);
    await metastore.createTable({
      name,
      location,
      managed: true,
      description: 'one row per customer and day',
      tags: { team: 'growth', pii: 'false' },
      feature: info,
    });

    const events = engine.parseName('ml.raw.events');
    const eventsTable = await DeltaTable.create(engine.defaultLocation(events), {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'tags', type: { type: 'array', elementType: 'string', containsNull: true } },
      ],
    });
    await eventsTable.append("SELECT range AS id, ['a'] AS tags FROM range(5)");
    await metastore.createTable({ name: events, location: engine.defaultLocation(events), managed: true });
    await metastore.createTable({
      name: engine.parseName('ml.raw.gone'),
      location: join(projectDir, 'no-such-folder'),
      managed: false,
    });
    await metastore.createView({
      name: engine.parseName('ml.raw.recent'),
      sql: 'SELECT * FROM ml.raw.events',
    });
  } finally {
    await engine.close();
    await metastore.close();
  }
});

afterAll(async () => {
  await rm(projectDir, { recursive: true, force: true });
  await rm(otherDir, { recursive: true, force: true });
});

describe('larder tables', () => {
  it('lists only feature tables, aligned, with keys, features, version, last commit, owner and tags', async () => {
    const run = await larder(['tables', '--project', projectDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'NAME                                 PRIMARY KEYS               TIMESERIES    FEATURES  VERSION  LAST MODIFIED         OWNER    TAGS',
        `ml.churn_features.customer_features  customer_id, feature_date  feature_date  2         2        ${iso(commitTimes[2] ?? 0)}  ml-team  team=growth, pii=false`,
        '',
      ].join('\n'),
    );
  });

  it('lists every table with --all, a table whose folder is gone without a version and with a warning', async () => {
    const run = await larder(['tables', '--all'], projectDir);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual([
      'NAME',
      'ml.churn_features.customer_features',
      'ml.raw.events',
      'ml.raw.gone',
      '',
    ]);
    expect(lines[2]).toMatch(/^ml\.raw\.events\s+-\s+-\s+-\s+1\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+-\s+-$/);
    expect(lines[3]).toMatch(/^ml\.raw\.gone(\s+-){7}$/);
    expect(run.stderr).toContain('warning: ml.raw.gone:');
    expect(run.stderr).toContain('no-such-folder');
  });

  it('prints a JSON array with --json and filters by catalog and schema', async () => {
    expect(await json(['tables'])).toEqual([
      {
        name: 'ml.churn_features.customer_features',
        featureTable: true,
        primaryKeys: ['customer_id', 'feature_date'],
        timeseriesColumn: 'feature_date',
        features: 2,
        version: 2,
        lastModified: iso(commitTimes[2] ?? 0),
        owner: 'ml-team',
        tags: { team: 'growth', pii: 'false' },
        location: join(projectDir, '.larder', 'warehouse', 'ml', 'churn_features', 'customer_features'),
      },
    ]);
    const raw = (await json(['tables', '--all', '--catalog', 'ML', '--schema', 'raw'])) as {
      name: string;
      featureTable: boolean;
      version: number | null;
      error?: string;
    }[];
    expect(raw.map((t) => [t.name, t.featureTable, t.version])).toEqual([
      ['ml.raw.events', false, 1],
      ['ml.raw.gone', false, null],
    ]);
    expect(raw[1]?.error).toContain('no-such-folder');
    expect(await json(['tables', '--catalog', 'other'])).toEqual([]);
    const none = await larder(['tables', '--schema', 'raw', '-C', projectDir]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('No feature tables are registered (larder tables --all lists every table).\n');
  });
});

describe('larder describe', () => {
  it('shows the catalog entry, the feature-table facts, the features and the Delta facts', async () => {
    const run = await larder(['describe', 'ML.Churn_Features.Customer_Features', '-C', projectDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    for (const line of [
      'Table        ml.churn_features.customer_features',
      'Kind         feature table, managed',
      'Description  one row per customer and day',
      'Owner        ml-team',
      'Tags         team=growth, pii=false',
      'Feature table',
      '  Primary keys       customer_id, feature_date',
      '  Timeseries column  feature_date',
      '  Partition columns  feature_date',
      '  Cluster columns    -',
      '  Lineage            pipeline customer_features; sources raw_transactions',
      'Features (2)',
      '  NAME        TYPE    DESCRIPTION',
      '  n_tx        long    transactions that day',
      '  avg_amount  double',
      '  Version         2',
      `  Last commit     ${iso(commitTimes[2] ?? 0)} (MERGE)`,
      '  Rows            110',
      '  Partitioned by  feature_date',
      '  NAME          TYPE    NULLABLE  ROLE            DESCRIPTION',
      '  customer_id   long    no        primary key',
      '  feature_date  date    no        timeseries key',
      '  n_tx          long    yes       feature         transactions that day',
    ]) {
      expect(lines, line).toContain(line);
    }
    expect(run.stdout).toMatch(/\n {2}Files +[1-9]\d*\n/);
    expect(run.stdout).toMatch(/\n {2}Size +\d[\d.]* (KiB|bytes)/);
  });

  it('prints everything as one JSON object with --json', async () => {
    const d = (await json(['describe', 'ml.churn_features.customer_features'])) as Record<string, unknown> & {
      delta: Record<string, unknown> & { columns: unknown[] };
    };
    expect(d).toMatchObject({
      name: 'ml.churn_features.customer_features',
      managed: true,
      description: 'one row per customer and day',
      owner: 'ml-team',
      tags: { team: 'growth', pii: 'false' },
      properties: {},
      featureTable: true,
      feature: info,
    });
    expect(d.delta).toMatchObject({
      version: 2,
      lastCommit: iso(commitTimes[2] ?? 0),
      lastOperation: 'MERGE',
      numRows: 110,
      partitionColumns: ['feature_date'],
      clusteringColumns: [],
    });
    expect(d.delta.numFiles).toBeGreaterThan(0);
    expect(d.delta.columns).toEqual([
      { name: 'customer_id', type: 'long', nullable: false, role: 'primary key', description: null },
      { name: 'feature_date', type: 'date', nullable: false, role: 'timeseries key', description: null },
      { name: 'n_tx', type: 'long', nullable: true, role: 'feature', description: 'transactions that day' },
      { name: 'avg_amount', type: 'double', nullable: true, role: 'feature', description: null },
    ]);
  });

  it('describes a plain table without a feature section, and a table whose folder is gone without Delta facts', async () => {
    const plain = await larder(['describe', 'ml.raw.events', '-C', projectDir]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('Kind         table, managed');
    expect(plain.stdout).not.toContain('Feature table');
    expect(plain.stdout).not.toContain('Features (');
    expect(plain.stdout).toMatch(/\n {2}tags +array<string> +yes +- *\n/);
    const events = (await json(['describe', 'ml.raw.events'])) as {
      feature: unknown;
      delta: { numRows: number };
    };
    expect(events.feature).toBeNull();
    expect(events.delta.numRows).toBe(5);

    const gone = (await json(['describe', 'ml.raw.gone'])) as { delta: unknown; deltaError: string };
    expect(gone.delta).toBeNull();
    expect(gone.deltaError).toContain('no-such-folder');
  });

  it('fails with TABLE_NOT_FOUND and exit code 1 for an unknown table or a view', async () => {
    const unknown = await larder(['describe', 'ml.raw.nope', '-C', projectDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^error \[TABLE_NOT_FOUND\]: .*ml\.raw\.nope/);
    const view = await larder(['describe', 'ml.raw.recent', '-C', projectDir, '--json']);
    expect(view.code).toBe(1);
    expect(view.stderr).toMatch(/^error \[TABLE_NOT_FOUND\]: ml\.raw\.recent is a view/);
  });
});

describe('larder history', () => {
  it('prints the Delta history newest first with operations, parameters and a metrics summary', async () => {
    const run = await larder(['history', 'ml.churn_features.customer_features'], projectDir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^VERSION +TIMESTAMP +OPERATION +PARAMETERS +METRICS$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([
      ['2', iso(commitTimes[2] ?? 0), 'MERGE'],
      ['1', iso(commitTimes[1] ?? 0), 'WRITE'],
      ['0', iso(commitTimes[0] ?? 0), 'CREATE TABLE'],
    ]);
    expect(lines[1]).toContain('inserted=10, updated=10, deleted=0');
    expect(lines[2]).toContain('mode=Append');
    expect(lines[2]).toMatch(/rows=100$/);
  });

  it('limits the entries with --limit and prints them whole with --json', async () => {
    const entries = (await json(['history', 'ml.churn_features.customer_features', '--limit', '2'])) as {
      version: number;
      timestamp: string;
      operation: string;
      metrics: Record<string, string>;
      readVersion: number | null;
    }[];
    expect(entries.map((e) => [e.version, e.operation, e.readVersion])).toEqual([
      [2, 'MERGE', 1],
      [1, 'WRITE', 0],
    ]);
    expect(entries[0]?.timestamp).toBe(new Date(commitTimes[2] ?? 0).toISOString());
    expect(entries[0]?.metrics).toMatchObject({ numTargetRowsInserted: '10', numTargetRowsUpdated: '10' });
  });

  it('exits 1 for an unknown table and for a --limit that is not a positive integer', async () => {
    const unknown = await larder(['history', 'ml.raw.nope', '-C', projectDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error \[TABLE_NOT_FOUND\]: .*ml\.raw\.nope/);
    for (const limit of ['0', '-1', 'two']) {
      const bad = await larder(['history', 'ml.raw.events', '--limit', limit, '-C', projectDir]);
      expect(bad.code, limit).toBe(1);
      expect(bad.stderr, limit).toContain('expected a positive integer');
    }
  });
});

describe('tables, describe and history in a project with a config', () => {
  const postgresUrl = TEST_POSTGRES_URL;
  const schema = `larder_cli_tables_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const NAME = 'ml.team.scores';
  let configured: string;
  let broken: string;

  beforeAll(async () => {
    configured = await mkdtemp(join(tmpdir(), 'larder-cli-tables-config-'));
    broken = await mkdtemp(join(tmpdir(), 'larder-cli-tables-broken-'));
    await writeFile(
      join(configured, 'larder.config.ts'),
      `import { defineConfig } from 'larderjs/config';
export default defineConfig({
  catalog: { url: '${postgresUrl}?schema=${schema}' },
  warehouse: 'lake',
});
`,
    );
    await writeFile(
      join(broken, 'larder.config.ts'),
      "export default { catalog: { url: 'mysql://db/x' } };\n",
    );
    const metastore = await PostgresMetastore.open(postgresUrl, { schema });
    const fs = await FeatureStore.open({ projectDir: configured, metastore, warehouse: 'lake' });
    try {
      await fs.createTable({
        name: NAME,
        primaryKeys: 'id',
        schema: { id: 'long', score: 'double' },
        df: [{ id: 1n, score: 0.5 }],
        owner: 'team-a',
      });
      await fs.writeTable({ name: NAME, df: [{ id: 2n, score: 0.7 }] });
    } finally {
      await fs.close();
      await metastore.close();
    }
  });

  afterAll(async () => {
    await dropTestSchema(schema, postgresUrl);
    await rm(configured, { recursive: true, force: true });
    await rm(broken, { recursive: true, force: true });
  });

  it('lists, describes and shows the history of the tables of the catalog the config names', async () => {
    const tables = await larder(['tables', '--json', '-C', configured]);
    expect(tables.stderr).toBe('');
    expect(JSON.parse(tables.stdout)).toMatchObject([
      { name: NAME, owner: 'team-a', version: 2, location: join(configured, 'lake', 'ml', 'team', 'scores') },
    ]);
    const described = await larder(['describe', NAME, '--json', '-C', configured]);
    expect(described.stderr).toBe('');
    expect(JSON.parse(described.stdout)).toMatchObject({
      name: NAME,
      featureTable: true,
      location: join(configured, 'lake', 'ml', 'team', 'scores'),
      delta: { version: 2 },
    });
    const history = await larder(['history', NAME, '--json', '-C', configured]);
    expect(history.stderr).toBe('');
    expect((JSON.parse(history.stdout) as { operation: string }[]).map((h) => h.operation)).toEqual([
      'MERGE',
      'WRITE',
      'CREATE TABLE',
    ]);
  });

  it('fails with CONFIG_INVALID and exit code 1 when the project config is broken', async () => {
    for (const args of [['tables'], ['describe', NAME], ['history', NAME]]) {
      const run = await larder([...args, '-C', broken]);
      expect(run.code, args[0]).toBe(1);
      expect(run.stdout, args[0]).toBe('');
      expect(run.stderr, args[0]).toMatch(
        /^error \[CONFIG_INVALID\]: larder\.config\.ts: config › catalog\.url: /,
      );
    }
  });
});
