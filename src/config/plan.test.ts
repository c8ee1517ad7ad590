import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropTestSchema, TEST_POSTGRES_URL } from '../../test/support/postgres.js';
import type { Metastore } from '../catalog/metastore.js';
import { PostgresMetastore } from '../catalog/postgres/postgres-metastore.js';
import { DeltaTable } from '../delta/delta-table.js';
import { isLarderError, type LarderError } from '../errors.js';
import { FeatureStore } from '../features/feature-store.js';
import { ensureOutputTable } from '../pipelines/ensure-output-table.js';
import { applyPlan } from './apply.js';
import type { LarderConfig } from './define-config.js';
import { formatPlan } from './format-plan.js';
import type { LoadedConfig } from './load-config.js';
import { MANAGED_BY_PROPERTY, PROJECT_PROPERTY } from './managed-by.js';
import { openProject } from './open-project.js';
import { type Plan, type PlanAction, planConfig, planSummary } from './plan.js';
import { validateConfig } from './validate-config.js';

const postgresUrl = TEST_POSTGRES_URL;

const STATS = 'ml.f.customer_stats';
const LABELS = 'ml.f.labels';
const STATS_SQL =
  'SELECT customer_id::BIGINT AS customer_id, count(*)::INTEGER AS n_tx, sum(amount)::DOUBLE AS total FROM tx GROUP BY 1';

// biome-ignore lint/suspicious/noExplicitAny: tests edit configs freely before validation
type Editable = Record<string, any>;

/** A config with a pipeline-written table over a CSV file and a table with declared columns only. */
function baseConfig(): Editable {
  return {
    sources: {
      tx: { type: 'csv', path: 'data/tx.csv' },
      customers: { type: 'csv', path: 'data/customers.csv' },
    },
    entities: { customer: { keys: ['customer_id'] } },
    featureTables: {
      [STATS]: {
        entity: 'customer',
        description: 'Transaction stats per customer',
        owner: 'team-a',
        tags: { team: 'ml', tier: 'gold' },
        clusterBy: ['customer_id'],
        features: { n_tx: { type: 'integer', description: 'Transactions' }, total: { type: 'double' } },
      },
      [LABELS]: {
        primaryKeys: ['customer_id'],
        features: { customer_id: { type: 'long' }, churned: { type: 'boolean', description: 'Churn label' } },
      },
    },
    pipelines: { customer_stats: { output: STATS, sources: ['tx'], sql: STATS_SQL } },
  };
}

let dir: string;
let store: FeatureStore;
let metastore: Metastore | undefined;
let cleanups: (() => Promise<void>)[] = [];

async function openStore(options: { metastore?: Metastore } = {}): Promise<FeatureStore> {
  metastore = options.metastore;
  store = await FeatureStore.open({
    projectDir: dir,
    ...(options.metastore ? { metastore: options.metastore } : {}),
  });
  return store;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-plan-'));
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data', 'tx.csv'), 'customer_id,amount\n1,10.5\n1,3\n2,7\n');
  await writeFile(join(dir, 'data', 'customers.csv'), 'customer_id,plan\n1,basic\n2,premium\n');
  cleanups = [];
});

afterEach(async () => {
  await store?.close();
  await metastore?.close();
  for (const cleanup of cleanups) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

function loaded(config: Editable): LoadedConfig {
  const file = join(dir, 'larder.config.ts');
  return { config: validateConfig(config, { file, projectDir: dir }) as LarderConfig, file, projectDir: dir };
}

function plan(config: Editable): Promise<Plan> {
  return planConfig({ featureStore: store, loaded: loaded(config) });
}

async function applyConfig(config: Editable, prune = false) {
  const p = await plan(config);
  expect(p.errors).toEqual([]);
  return applyPlan(p, { featureStore: store, prune });
}

function action(p: Plan, table: string): PlanAction | undefined {
  return p.actions.find((a) => a.table === table);
}

async function caught(promise: Promise<unknown>): Promise<LarderError> {
  try {
    await promise;
  } catch (error) {
    if (isLarderError(error)) return error;
    throw error;
  }
  throw new Error('expected a LarderError');
}

describe('planConfig and applyPlan (SQLite catalog)', () => {
  beforeEach(async () => {
    await openStore();
  });

  it('plans a create per declared table, from the pipeline output or the declared columns, writing nothing', async () => {
    const p = await plan(baseConfig());
    expect(p.errors).toEqual([]);
    expect(p.actions.map((a) => [a.kind, a.table])).toEqual([
      ['create', STATS],
      ['create', LABELS],
    ]);
    const stats = action(p, STATS);
    if (stats?.kind !== 'create') throw new Error('expected a create');
    expect(stats.spec.columns).toEqual([
      { name: 'customer_id', type: 'long' },
      { name: 'n_tx', type: 'integer', description: 'Transactions' },
      { name: 'total', type: 'double' },
    ]);
    expect(stats.spec.primaryKeys).toEqual(['customer_id']);
    expect(stats.spec.lineage).toEqual({ pipeline: 'customer_stats', sources: ['data/tx.csv'] });
    const labels = action(p, LABELS);
    if (labels?.kind !== 'create') throw new Error('expected a create');
    expect(labels.spec.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'customer_id long',
      'churned boolean',
    ]);
    expect(labels.spec.lineage).toBeUndefined();
    expect(await store.metastore.listTables()).toEqual([]);
    expect(existsSync(join(dir, '.larder', 'warehouse', 'ml'))).toBe(false);
    expect(planSummary(p)).toEqual({ create: 2, update: 0, unchanged: 0, remove: 0, errors: 0 });
  });

  it('creates the tables marked as managed by the config, after which the plan finds them unchanged', async () => {
    const result = await applyConfig(baseConfig());
    expect(result.created).toEqual([STATS, LABELS]);
    const stats = await store.getTable(STATS);
    expect(stats.primaryKeys).toEqual(['customer_id']);
    expect(stats.clusterBy).toEqual(['customer_id']);
    expect(stats.owner).toBe('team-a');
    expect(stats.tags).toEqual({ team: 'ml', tier: 'gold' });
    expect(stats.description).toBe('Transaction stats per customer');
    expect(stats.lineage).toEqual({ pipeline: 'customer_stats', sources: ['data/tx.csv'] });
    expect(stats.features.map((f) => [f.name, f.type, f.description])).toEqual([
      ['n_tx', 'integer', 'Transactions'],
      ['total', 'double', undefined],
    ]);
    const entry = await store.metastore.getTable({ catalog: 'ml', schema: 'f', table: 'customer_stats' });
    expect(entry?.properties[MANAGED_BY_PROPERTY]).toBe('config');
    const again = await plan(baseConfig());
    expect(again.actions.map((a) => a.kind)).toEqual(['unchanged', 'unchanged']);
    expect(formatPlan(again)).toContain('No changes: the catalog matches the config (2 tables).');
  });

  it('lists each changed field with its old and new value, and apply makes the catalog match', async () => {
    await applyConfig(baseConfig());
    const config = baseConfig();
    const stats = config.featureTables[STATS];
    stats.description = 'Stats v2';
    delete stats.owner;
    stats.tags = { team: 'growth', pii: 'false' };
    stats.clusterBy = ['n_tx'];
    stats.features.total.description = 'Amount spent';
    config.pipelines.customer_stats.sources = ['tx', 'customers'];
    config.featureTables[LABELS].features.churned.description = 'Churned within 30 days';
    const p = await plan(config);
    expect(p.errors).toEqual([]);
    const update = action(p, STATS);
    if (update?.kind !== 'update') throw new Error('expected an update');
    expect(update.changes).toEqual([
      { field: 'description', from: 'Transaction stats per customer', to: 'Stats v2' },
      { field: 'owner', from: 'team-a', to: null },
      { field: 'tags.team', from: 'ml', to: 'growth' },
      { field: 'tags.tier', from: 'gold', to: null },
      { field: 'tags.pii', from: null, to: 'false' },
      { field: 'clusterBy', from: ['customer_id'], to: ['n_tx'] },
      { field: 'features.total.description', from: null, to: 'Amount spent' },
      { field: 'lineage.sources', from: ['data/tx.csv'], to: ['data/tx.csv', 'data/customers.csv'] },
    ]);
    expect(action(p, LABELS)).toMatchObject({
      kind: 'update',
      changes: [{ field: 'features.churned.description', from: 'Churn label', to: 'Churned within 30 days' }],
    });
    const text = formatPlan(p);
    expect(text).toContain(`~ update ${STATS}`);
    expect(text).toContain('    tags.tier: "gold" → (none)');
    expect(text).toContain('    clusterBy: [customer_id] → [n_tx]');
    expect(text).toContain('Plan: 0 to create, 2 to update, 0 unchanged, 0 to remove.');

    const result = await applyPlan(p, { featureStore: store });
    expect(result.updated).toEqual([STATS, LABELS]);
    const table = await store.getTable(STATS);
    expect(table.description).toBe('Stats v2');
    expect(table.owner).toBeUndefined();
    expect(table.tags).toEqual({ team: 'growth', pii: 'false' });
    expect(table.clusterBy).toEqual(['n_tx']);
    expect((await store.engine.resolveTable(STATS)).table.describeDetail().clusteringColumns).toEqual([
      'n_tx',
    ]);
    expect(table.features.find((f) => f.name === 'total')?.description).toBe('Amount spent');
    expect(table.lineage.sources).toEqual(['data/tx.csv', 'data/customers.csv']);
    expect((await plan(config)).actions.map((a) => a.kind)).toEqual(['unchanged', 'unchanged']);
  });

  it('creates managed tables under the configured warehouse, and prune removes their folders', async () => {
    const config: Editable = { ...baseConfig(), warehouse: 'lake' };
    const project = await openProject(loaded(config));
    try {
      const p = await planConfig({ featureStore: project.featureStore, loaded: loaded(config) });
      const stats = action(p, STATS);
      if (stats?.kind !== 'create') throw new Error('expected a create');
      expect(stats.spec.location).toBe(join(dir, 'lake', 'ml', 'f', 'customer_stats'));
      await applyPlan(p, { featureStore: project.featureStore });
      const entry = await project.featureStore.metastore.getTable({
        catalog: 'ml',
        schema: 'f',
        table: 'customer_stats',
      });
      expect(entry?.location).toBe(join(dir, 'lake', 'ml', 'f', 'customer_stats'));
      expect(entry?.managed).toBe(true);
      expect(existsSync(join(dir, 'lake', 'ml', 'f', 'customer_stats', '_delta_log'))).toBe(true);
      const empty: Editable = { ...config, featureTables: {}, pipelines: {} };
      const prune = await planConfig({ featureStore: project.featureStore, loaded: loaded(empty) });
      await applyPlan(prune, { featureStore: project.featureStore, prune: true });
      expect(existsSync(join(dir, 'lake', 'ml', 'f', 'customer_stats'))).toBe(false);
    } finally {
      await project.close();
    }
  });

  it('finds a table that a pipeline run created from the config unchanged', async () => {
    const config = baseConfig();
    await ensureOutputTable({
      featureStore: store,
      config: loaded(config).config,
      pipeline: 'customer_stats',
    });
    const p = await plan(config);
    expect(p.errors).toEqual([]);
    expect(p.actions.map((a) => [a.kind, a.table])).toEqual([
      ['unchanged', STATS],
      ['create', LABELS],
    ]);
  });

  it('sets declared Delta table properties on an existing table', async () => {
    await applyConfig(baseConfig());
    const config = baseConfig();
    config.featureTables[STATS].properties = { 'delta.appendOnly': 'false', 'team.reviewed': 'yes' };
    const p = await plan(config);
    expect(action(p, STATS)).toMatchObject({
      kind: 'update',
      changes: [
        { field: 'properties.delta.appendOnly', from: null, to: 'false' },
        { field: 'properties.team.reviewed', from: null, to: 'yes' },
      ],
    });
    await applyPlan(p, { featureStore: store });
    const detail = (await store.engine.resolveTable(STATS)).table.describeDetail();
    expect(detail.properties['team.reviewed']).toBe('yes');
    expect(action(await plan(config), STATS)?.kind).toBe('unchanged');
  });

  it('refuses to change the primary keys, timeseries or partition columns of an existing table, with a hint', async () => {
    await applyConfig(baseConfig());
    const config = baseConfig();
    config.featureTables[LABELS].primaryKeys = ['customer_id', 'day'];
    config.featureTables[LABELS].features.day = { type: 'date' };
    config.featureTables[STATS].partitionColumns = ['n_tx'];
    const p = await plan(config);
    expect(p.errors.map((e) => [e.object, e.field])).toEqual([
      [`featureTables["${STATS}"]`, 'partitionColumns'],
      [`featureTables["${LABELS}"]`, 'primaryKeys'],
    ]);
    expect(p.errors[1]?.problem).toBe(
      'the primary keys of an existing table cannot change: customer_id → customer_id, day',
    );
    expect(p.errors[1]?.hint).toContain('declare it under a new name');
    const timeseries = baseConfig();
    timeseries.featureTables[LABELS].timeseriesColumn = 'customer_id';
    const errors = (await plan(timeseries)).errors;
    expect(errors.map((e) => e.field)).toEqual(['timeseriesColumn']);
    expect(errors[0]?.problem).toBe(
      'the timeseries column of an existing table cannot change: (none) → customer_id',
    );
  });

  it('reports a primary key missing from the output and a declared type that clashes with it', async () => {
    const config = baseConfig();
    config.pipelines.customer_stats.sql = 'SELECT count(*)::INTEGER AS n_tx, sum(amount) AS total FROM tx';
    config.featureTables[STATS].features.n_tx.type = 'long';
    const p = await plan(config);
    expect(p.errors).toEqual([
      {
        object: `featureTables["${STATS}"]`,
        field: 'entity',
        problem:
          'primary key "customer_id" is not a column of the output of pipeline "customer_stats" (columns: n_tx, total)',
      },
      {
        object: `featureTables["${STATS}"]`,
        field: 'features.n_tx.type',
        problem: `type clash in ${STATS}: column "n_tx" is declared long, the output of pipeline "customer_stats" gives integer (DuckDB INTEGER)`,
        hint: 'cast the column in the SQL with ::BIGINT, or change the declared type',
      },
    ]);
    expect(p.actions.map((a) => a.table)).toEqual([LABELS]);
  });

  it('warns that the next run drops the columns the output no longer has', async () => {
    await applyConfig(baseConfig());
    const config = baseConfig();
    delete config.featureTables[STATS].features.total;
    config.pipelines.customer_stats.sql =
      'SELECT customer_id::BIGINT AS customer_id, count(*)::INTEGER AS n_tx FROM tx GROUP BY 1';
    const p = await plan(config);
    expect(p.errors).toEqual([]);
    expect(p.warnings).toEqual([
      {
        object: `featureTables["${STATS}"]`,
        field: 'columns',
        problem:
          'the next run of pipeline "customer_stats" drops column total from the table (the SQL no longer outputs it; its data is lost)',
      },
    ]);
  });

  it('reports an output column whose type differs from the existing table, and warns of added columns', async () => {
    await applyConfig(baseConfig());
    const config = baseConfig();
    delete config.featureTables[STATS].features.total;
    config.pipelines.customer_stats.sql =
      'SELECT customer_id::BIGINT AS customer_id, count(*)::INTEGER AS n_tx, sum(amount)::VARCHAR AS total, max(amount) AS top FROM tx GROUP BY 1';
    const p = await plan(config);
    expect(p.errors).toHaveLength(1);
    expect(p.errors[0]).toMatchObject({ object: `featureTables["${STATS}"]`, field: 'columns.total' });
    expect(p.errors[0]?.problem).toContain('column "total" is double in the table');
    expect(p.errors[0]?.problem).toContain('gives string');
    expect(p.warnings).toEqual([
      {
        object: `featureTables["${STATS}"]`,
        field: 'columns',
        problem: 'the next run of pipeline "customer_stats" adds column top',
      },
    ]);
  });

  it('reports a missing source file and SQL that does not bind against the config object at fault', async () => {
    const missing = baseConfig();
    missing.sources.tx.path = 'data/nope-*.csv';
    const p1 = await plan(missing);
    expect(p1.errors).toHaveLength(1);
    expect(p1.errors[0]).toMatchObject({ object: 'sources.tx', field: 'path' });
    expect(p1.errors[0]?.problem).toContain(join(dir, 'data', 'nope-*.csv'));

    const broken = baseConfig();
    broken.pipelines.customer_stats.sql = 'SELECT customer_id, no_such_column FROM tx';
    const p2 = await plan(broken);
    expect(p2.errors).toHaveLength(1);
    expect(p2.errors[0]).toMatchObject({ object: 'pipelines.customer_stats', field: 'sql' });
    expect(p2.errors[0]?.problem).toContain('no_such_column');
  });

  it('reports a table that cannot be created because a column has no type and no pipeline writes it', async () => {
    const config = baseConfig();
    delete config.featureTables[LABELS].features.customer_id;
    const p = await plan(config);
    expect(p.errors).toHaveLength(1);
    expect(p.errors[0]).toMatchObject({ object: `featureTables["${LABELS}"]`, field: 'primaryKeys' });
  });

  it('reports a declared name that the catalog holds as a plain table', async () => {
    const location = join(dir, 'plain');
    await DeltaTable.create(location, { schema: [{ name: 'customer_id', type: 'long' }] });
    await store.metastore.createTable({
      name: { catalog: 'ml', schema: 'f', table: 'labels' },
      location,
      managed: false,
    });
    const p = await plan(baseConfig());
    expect(p.errors).toEqual([
      {
        object: `featureTables["${LABELS}"]`,
        field: 'name',
        problem: `${LABELS} is in the catalog and is not a feature table`,
        hint: 'drop it, or declare the feature table under another name',
      },
    ]);
  });

  it('writes nothing when the plan has errors', async () => {
    const config = baseConfig();
    config.pipelines.customer_stats.sql = 'SELECT 1 AS n_tx';
    const p = await plan(config);
    expect(p.errors.length).toBeGreaterThan(0);
    expect(p.actions.map((a) => a.kind)).toEqual(['create']);
    const error = await caught(applyPlan(p, { featureStore: store }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(
      `larder.config.ts: featureTables["${STATS}"] › entity: primary key "customer_id"`,
    );
    expect(await store.metastore.listTables()).toEqual([]);
    expect(existsSync(join(dir, '.larder', 'warehouse', 'ml'))).toBe(false);
  });

  it('never plans to remove the tables of another project sharing the catalog', async () => {
    const teamA: Editable = { ...baseConfig(), project: 'team_a' };
    await applyConfig(teamA);
    const entry = await store.metastore.getTable({ catalog: 'ml', schema: 'f', table: 'labels' });
    expect(entry?.properties).toMatchObject({
      [MANAGED_BY_PROPERTY]: 'config',
      [PROJECT_PROPERTY]: 'team_a',
    });
    // Team B declares other tables in the same catalog: team A's are not its to remove.
    const teamB: Editable = {
      project: 'team_b',
      featureTables: {
        'ml.g.scores': { primaryKeys: ['id'], features: { id: { type: 'long' }, score: { type: 'double' } } },
      },
    };
    const b = await plan(teamB);
    expect(b.project).toBe('team_b');
    expect(b.actions.map((a) => [a.kind, a.table])).toEqual([['create', 'ml.g.scores']]);
    await applyPlan(b, { featureStore: store, prune: true });
    // Team A dropping a table prunes it, and leaves team B's alone.
    const fewer: Editable = { ...teamA, featureTables: { [STATS]: teamA.featureTables[STATS] } };
    const a = await plan(fewer);
    expect(a.actions.map((x) => [x.kind, x.table])).toEqual([
      ['unchanged', STATS],
      ['remove', LABELS],
    ]);
    await applyPlan(a, { featureStore: store, prune: true });
    expect((await store.metastore.listTables()).map((t) => t.fullName).sort()).toEqual([
      STATS,
      'ml.g.scores',
    ]);
  });

  it('names a project after its folder when the config does not', async () => {
    const p = await plan(baseConfig());
    expect(p.project).toBe(basename(dir));
    await applyPlan(p, { featureStore: store });
    const entry = await store.metastore.getTable({ catalog: 'ml', schema: 'f', table: 'labels' });
    expect(entry?.properties[PROJECT_PROPERTY]).toBe(basename(dir));
  });

  it('removes only tables the config created, and only with prune', async () => {
    await applyConfig(baseConfig());
    await store.createTable({
      name: 'ml.f.by_hand',
      primaryKeys: ['id'],
      schema: { id: 'long', x: 'double' },
    });
    const config = baseConfig();
    delete config.featureTables[LABELS];
    const p = await plan(config);
    expect(p.actions.map((a) => [a.kind, a.table])).toEqual([
      ['unchanged', STATS],
      ['remove', LABELS],
    ]);
    expect(formatPlan(p)).toContain(`- remove ${LABELS} (with --prune) and its data`);
    expect(formatPlan(p)).toContain(
      'Plan: 0 to create, 0 to update, 1 unchanged, 1 to remove (with --prune).',
    );

    const kept = await applyPlan(p, { featureStore: store });
    expect(kept).toMatchObject({ removed: [], keptRemovals: [LABELS] });
    const location = (await store.getTable(LABELS)).location;
    expect(existsSync(location)).toBe(true);

    const pruned = await applyPlan(await plan(config), { featureStore: store, prune: true });
    expect(pruned.removed).toEqual([LABELS]);
    expect(existsSync(location)).toBe(false);
    expect((await store.metastore.listTables()).map((t) => t.fullName).sort()).toEqual([
      'ml.f.by_hand',
      STATS,
    ]);
    expect((await plan(config)).actions.map((a) => a.kind)).toEqual(['unchanged']);
  });
});

describe('planConfig and applyPlan (PostgreSQL catalog)', () => {
  it('creates, finds unchanged and prunes feature tables in a PostgreSQL catalog', async () => {
    const schema = `larder_test_${randomUUID().replaceAll('-', '')}`;
    cleanups.push(async () => {
      await dropTestSchema(schema, postgresUrl);
    });
    await openStore({ metastore: await PostgresMetastore.open(postgresUrl, { schema }) });
    expect((await applyConfig(baseConfig())).created).toEqual([STATS, LABELS]);
    const entry = await store.metastore.getTable({ catalog: 'ml', schema: 'f', table: 'labels' });
    expect(entry?.properties[MANAGED_BY_PROPERTY]).toBe('config');
    expect((await plan(baseConfig())).actions.map((a) => a.kind)).toEqual(['unchanged', 'unchanged']);
    const config = baseConfig();
    delete config.featureTables[LABELS];
    config.featureTables[STATS].tags = { team: 'ml' };
    const result = await applyConfig(config, true);
    expect(result).toMatchObject({ updated: [STATS], removed: [LABELS] });
    expect((await store.getTable(STATS)).tags).toEqual({ team: 'ml' });
    expect((await store.metastore.listTables()).map((t) => t.fullName)).toEqual([STATS]);
  });
});
