import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableName } from '../catalog/metastore.js';
import { DeltaTable } from '../delta/delta-table.js';
import type { ColumnSpec } from '../delta/operations/create.js';
import { isLarderError, type LarderErrorCode } from '../errors.js';
import { Engine } from './engine.js';
import type { SqlResult } from './sql-result.js';
import { splitStatements } from './sql-tokenizer.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const seedGuide = resolve(repoRoot, 'test/fixtures/seed/feature-store-performance-guide.md');

let projectDir: string;
let engine: Engine;

/** Create a Delta table at the engine's default location and register it. */
async function registerTable(
  fullName: string,
  schema: readonly ColumnSpec[],
  options: { partitionColumns?: readonly string[] } = {},
): Promise<{ name: TableName; table: DeltaTable }> {
  const name = engine.parseName(fullName);
  const location = engine.defaultLocation(name);
  const table = await DeltaTable.create(location, { schema, ...options });
  await engine.metastore.createTable({ name, location, managed: true });
  return { name, table };
}

async function rows(sql: string): Promise<unknown[][]> {
  return (await engine.query(sql)).rows.map((r) => [...r]);
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ code: LarderErrorCode | undefined; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a failure').toBeInstanceOf(Error);
  return { code: isLarderError(error) ? error.code : undefined, message: (error as Error).message };
}

/** Set each commit's timestamp (its file's mtime) to 2024-01-01 + version days. */
async function dateCommits(table: DeltaTable): Promise<void> {
  const log = join(table.path, '_delta_log');
  for (const file of await readdir(log)) {
    if (!file.endsWith('.json')) continue;
    const when = new Date(Date.UTC(2024, 0, 1 + Number(file.slice(0, 20))));
    await utimes(join(log, file), when, when);
  }
}

beforeAll(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'larder-engine-'));
  engine = await Engine.open({ projectDir });
  // ml.sales.orders: partitioned by day, one file per day, versions 1..3 add a day each.
  const { table: orders } = await registerTable(
    'ml.sales.orders',
    [
      { name: 'order_id', type: 'long' },
      { name: 'customer_id', type: 'long' },
      { name: 'amount', type: 'double' },
      { name: 'day', type: 'date' },
    ],
    { partitionColumns: ['day'] },
  );
  await orders.append(
    "SELECT * FROM (VALUES (1, 1, 5.0, DATE '2024-05-01'), (2, 2, 20.0, DATE '2024-05-01')) t(order_id, customer_id, amount, day)",
  );
  await orders.append(
    "SELECT * FROM (VALUES (3, 1, 30.0, DATE '2024-05-02'), (4, 3, 8.0, DATE '2024-05-02')) t(order_id, customer_id, amount, day)",
  );
  await orders.append("SELECT 5 AS order_id, 2 AS customer_id, 50.0 AS amount, DATE '2024-05-03' AS day");
  await dateCommits(orders);
  // ml.sales.customers: unpartitioned, three files with disjoint id ranges (pruned by stats).
  const { table: customers } = await registerTable('ml.sales.customers', [
    { name: 'customer_id', type: 'long' },
    { name: 'name', type: 'string' },
  ]);
  for (const start of [1, 11, 21]) {
    await customers.append(
      `SELECT range AS customer_id, 'c' || range AS name FROM range(${start}, ${start + 10})`,
    );
  }
});

afterAll(async () => {
  await engine.close();
  await rm(projectDir, { recursive: true, force: true });
});

describe('Engine: names', () => {
  it('reads a registered table by its three-level name, in any case and quoting', async () => {
    expect(await rows('SELECT count(*) FROM ml.sales.orders')).toEqual([['5']]);
    expect(await rows('SELECT count(*) FROM ML.Sales.ORDERS')).toEqual([['5']]);
    expect(await rows('SELECT count(*) FROM "ml"."sales"."orders"')).toEqual([['5']]);
    expect(await rows('SELECT count(*) FROM `ml`.`sales`.`orders`')).toEqual([['5']]);
  });

  it('reads a doubled backtick inside a backticked name as one backtick', async () => {
    const result = await engine.query('SELECT 1 AS `a``b`, 2 AS ```x```');
    expect(result.columns.map((c) => c.name)).toEqual(['a`b', '`x`']);
  });

  it('refuses an unclosed backtick, naming its line and the identifier', async () => {
    const error = await engine.query('SELECT 1\nFROM ml.sales.orders AS `o').catch((e: unknown) => e);
    expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
    expect((error as Error).message).toMatch(/line 2, column 25: .*`o is never closed/);
  });

  it('completes one- and two-part names with the current catalog and schema', async () => {
    try {
      engine.useCatalog('ml');
      expect(engine.currentSchema).toBe('default');
      expect(await rows('SELECT count(*) FROM sales.customers')).toEqual([['30']]);
      engine.useSchema('ml', 'sales');
      expect(await rows('SELECT max(order_id) FROM orders')).toEqual([['5']]);
      expect(engine.parseName('`Orders`')).toEqual({ catalog: 'ml', schema: 'sales', table: 'orders' });
      expect(engine.parseName('x.y')).toEqual({ catalog: 'ml', schema: 'x', table: 'y' });
    } finally {
      engine.useSchema('main', 'default');
    }
  });

  it('names an unaliased table after itself, so qualified columns work', async () => {
    expect(await rows('SELECT orders.order_id FROM ml.sales.orders WHERE orders.amount > 40')).toEqual([
      ['5'],
    ]);
    expect(await rows('SELECT o.order_id FROM ml.sales.orders AS o WHERE o.amount > 40')).toEqual([['5']]);
  });

  it('reads tables in joins, subqueries, CTEs and set operations', async () => {
    const joined = await rows(`
      SELECT c.name, sum(o.amount) AS total
      FROM ml.sales.orders o JOIN ml.sales.customers c ON o.customer_id = c.customer_id
      GROUP BY c.name ORDER BY c.name`);
    expect(joined).toEqual([
      ['c1', 35],
      ['c2', 70],
      ['c3', 8],
    ]);
    const nested = await rows(`
      WITH big AS (SELECT customer_id FROM ml.sales.orders WHERE amount >= 20)
      SELECT name FROM ml.sales.customers
      WHERE customer_id IN (SELECT customer_id FROM big)
        AND EXISTS (SELECT 1 FROM ml.sales.orders x WHERE x.customer_id = customers.customer_id AND x.day = '2024-05-03')
      UNION ALL
      SELECT (SELECT max(name) FROM ml.sales.customers WHERE customer_id < 5)
      ORDER BY 1`);
    expect(nested).toEqual([['c2'], ['c4']]);
    const result = await engine.query(
      'SELECT count(*) FROM ml.sales.orders a, ml.sales.orders b WHERE a.order_id = b.order_id',
    );
    expect(result.rows).toEqual([['5']]);
    // Both references read the same snapshot.
    expect(result.scans.map((s) => [s.table, s.version])).toEqual([
      ['ml.sales.orders', 3],
      ['ml.sales.orders', 3],
    ]);
  });

  it('rewrites the queries inside CREATE TABLE AS and INSERT … SELECT', async () => {
    await engine.query(
      "CREATE TEMP TABLE big_orders AS SELECT * FROM ml.sales.orders WHERE day = '2024-05-02'",
    );
    await engine.query(
      'INSERT INTO big_orders SELECT * FROM ml.sales.orders VERSION AS OF 1 WHERE amount > 10',
    );
    expect(await rows('SELECT order_id FROM big_orders ORDER BY 1')).toEqual([['2'], ['3'], ['4']]);
  });

  it('rewrites the subqueries of an expression, each table read at one snapshot per rewriter', async () => {
    const rewriter = engine.statementRewriter();
    expect(await rewriter.rewriteExpression("t.day = '2024-05-01' AND t.amount > 1")).toEqual({
      sql: "t.day = '2024-05-01' AND t.amount > 1",
      scans: [],
    });
    const where = await rewriter.rewriteExpression(
      "customer_id IN (SELECT customer_id FROM ml.sales.orders WHERE day = '2024-05-02')",
    );
    expect(where.sql).not.toContain('ml.sales.orders');
    expect(where.scans.map((s) => [s.table, s.version, s.filesRead])).toEqual([['ml.sales.orders', 3, 1]]);
    const value = await rewriter.rewriteExpression(
      '(SELECT max(order_id) FROM ml.sales.orders VERSION AS OF 1)',
    );
    const reader = await engine.connection.runAndReadAll(
      `SELECT count(*) FILTER (WHERE ${where.sql}), ${value.sql} FROM (VALUES (1), (2), (3)) c(customer_id)`,
    );
    expect(reader.getRowsJson()).toEqual([['2', '2']]);
  });

  it('lets a CTE named like a registered table hide it, and leaves DuckDB tables to DuckDB', async () => {
    try {
      engine.useSchema('ml', 'sales');
      expect(await rows('WITH orders AS (SELECT 42 AS x) SELECT x FROM orders')).toEqual([[42]]);
      await engine.query('CREATE TEMP TABLE scratch_numbers AS SELECT 7 AS n');
      expect(await rows('SELECT n FROM scratch_numbers')).toEqual([[7]]);
      const missing = await failure(engine.query('SELECT * FROM no_such_table'));
      expect(missing.code).toBe('SQL_ERROR');
      expect(missing.message).toContain('no_such_table');
    } finally {
      engine.useSchema('main', 'default');
    }
  });

  it('leaves a statement DuckDB cannot parse to DuckDB, which names the error', async () => {
    const error = await failure(engine.query('SELECT FROM WHERE ml.sales.orders'));
    expect(error.code).toBe('SQL_ERROR');
    expect(error.message).toContain('syntax error');
  });

  it('lets a session whose transaction failed roll it back', async () => {
    await engine.query('BEGIN TRANSACTION');
    expect((await failure(engine.query("SELECT 1 / 'a'"))).code).toBe('SQL_ERROR');
    expect((await failure(engine.query('SELECT count(*) FROM ml.sales.orders'))).message).toContain(
      'aborted',
    );
    await engine.query('ROLLBACK');
    expect(await rows('SELECT count(*) FROM ml.sales.orders')).toEqual([['5']]);
  });

  it('fails with TABLE_NOT_FOUND naming a three-level name that resolves to nothing', async () => {
    const unknownCatalog = await failure(engine.query('SELECT * FROM nowhere.sales.orders'));
    expect(unknownCatalog).toMatchObject({ code: 'TABLE_NOT_FOUND' });
    expect(unknownCatalog.message).toContain('nowhere.sales.orders');
    const unknownTable = await failure(
      engine.query('SELECT * FROM ml.sales.refunds JOIN ml.sales.orders USING (order_id)'),
    );
    expect(unknownTable).toMatchObject({ code: 'TABLE_NOT_FOUND' });
    expect(unknownTable.message).toContain('ml.sales.refunds');
    const resolved = await failure(engine.resolveTable('ml.sales.refunds'));
    expect(resolved.code).toBe('TABLE_NOT_FOUND');
    expect(resolved.message).toContain('ml.sales.refunds');
  });

  it('suggests the closest registered table for a misspelt name, never a DuckDB system table', async () => {
    const threeParts = await failure(engine.query('SELECT * FROM ml.sales.ordres'));
    expect(threeParts.code).toBe('TABLE_NOT_FOUND');
    expect(threeParts.message).toContain('table ml.sales.ordres not found (did you mean "ml.sales.orders"?)');
    // One part: DuckDB's binder fails, and its suggestion (a system table) is replaced by ours.
    engine.useSchema('ml', 'sales');
    try {
      const onePart = await failure(engine.query('SELECT * FROM custmers'));
      expect(onePart.code).toBe('SQL_ERROR');
      expect(onePart.message).toContain('Table with name custmers does not exist');
      expect(onePart.message).toContain('Did you mean "ml.sales.customers"?');
      expect(onePart.message.match(/Did you mean/g)).toHaveLength(1);
    } finally {
      engine.useSchema('main', 'default');
    }
    // A table of another schema is found by its table part.
    expect((await failure(engine.query('SELECT * FROM orders'))).message).toContain(
      'Did you mean "ml.sales.orders"?',
    );
    // Nothing close: no suggestion at all (DuckDB's "pg_enum"-like guess is dropped).
    const far = await failure(engine.query('INSERT INTO zzqx VALUES (1)'));
    expect(far.message).toContain('Table with name zzqx does not exist');
    expect(far.message).not.toContain('Did you mean');
  });

  it('resolves a registered table to its entry and Delta table at the latest version', async () => {
    const { entry, table } = await engine.resolveTable('ML.SALES.ORDERS');
    expect(entry.fullName).toBe('ml.sales.orders');
    expect(entry.location).toBe(join(projectDir, '.larder', 'warehouse', 'ml', 'sales', 'orders'));
    expect(table.version).toBe(3);
    expect(engine.defaultLocation({ catalog: 'ML', schema: 'S', table: 'T' })).toBe(
      join(projectDir, '.larder', 'warehouse', 'ml', 's', 't'),
    );
  });

  it('sees commits made through other handles in the next statement', async () => {
    const { table } = await registerTable('ml.sales.events', [{ name: 'id', type: 'long' }]);
    await table.append('SELECT 1 AS id');
    expect(await rows('SELECT count(*) FROM ml.sales.events')).toEqual([['1']]);
    const other = await DeltaTable.open(table.path);
    await other.append('SELECT 2 AS id');
    const result = await engine.query('SELECT count(*) FROM ml.sales.events');
    expect(result.rows).toEqual([['2']]);
    expect(result.scans[0]?.version).toBe(2);
  });
});

describe('Engine: time travel', () => {
  it('reads the version VERSION AS OF names, in every spelling', async () => {
    for (const sql of [
      'SELECT count(*) FROM ml.sales.orders VERSION AS OF 1',
      'SELECT count(*) FROM ml.sales.orders FOR VERSION AS OF 1 o',
      'SELECT count(*) FROM ml.sales.orders SYSTEM_VERSION AS OF 1',
      'SELECT count(*) FROM ml.sales.orders@v1',
      'SELECT count(*) FROM ml.sales.orders o AT (VERSION => 1)',
    ]) {
      const result = await engine.query(sql);
      expect(result.rows, sql).toEqual([['2']]);
      expect(result.scans[0]?.version, sql).toBe(1);
    }
  });

  it('reads the version current at TIMESTAMP AS OF', async () => {
    // Commit n was made on 2024-01-(1 + n).
    const at = async (clause: string) =>
      (await engine.query(`SELECT * FROM ml.sales.orders${clause.startsWith('@') ? '' : ' '}${clause}`))
        .scans[0]?.version;
    expect(await at("TIMESTAMP AS OF '2024-01-02 12:00:00'")).toBe(1);
    expect(await at("TIMESTAMP AS OF TIMESTAMP '2024-01-03'")).toBe(2);
    expect(await at("TIMESTAMP AS OF TIMESTAMP '2024-01-03' - INTERVAL 1 HOUR")).toBe(1);
    expect(await at("AT (TIMESTAMP => TIMESTAMP '2024-01-04 00:00:00')")).toBe(3);
    expect(await at('@20240102000000000')).toBe(1);
    expect(await at("TIMESTAMP AS OF '2024-01-04 00:00:00'")).toBe(3);
    const late = await failure(engine.query("SELECT * FROM ml.sales.orders TIMESTAMP AS OF '2030-01-01'"));
    expect(late.code).toBe('VERSION_NOT_FOUND');
    expect(late.message).toContain('ml.sales.orders');
    expect(late.message).toContain('2030-01-01T00:00:00.000Z');
    expect(late.message).toContain('after the latest version');
    expect(late.message).toContain('2024-01-04T00:00:00.000Z');
    const early = await failure(engine.query("SELECT * FROM ml.sales.orders TIMESTAMP AS OF '2023-12-31'"));
    expect(early.code).toBe('VERSION_NOT_FOUND');
    expect(early.message).toContain('ml.sales.orders');
  });

  it('travels by in-commit timestamps when the table records them, not by file times', async () => {
    const { table } = await registerTable('ml.sales.ict', [{ name: 'id', type: 'long' }]);
    await table.append('SELECT 1::BIGINT AS id');
    await table.append('SELECT 2::BIGINT AS id');
    // As Spark writes such a table: in-commit timestamps enabled, commitInfo first with inCommitTimestamp
    // (2024-03-0(1 + v)), while the files' times say 2030 and run backwards.
    const log = join(table.path, '_delta_log');
    for (const file of (await readdir(log)).filter((f) => f.endsWith('.json'))) {
      const version = Number(file.slice(0, 20));
      const actions = (await readFile(join(log, file), 'utf8'))
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
      const info = actions.find((a) => a.commitInfo) ?? { commitInfo: {} };
      info.commitInfo!.inCommitTimestamp = Date.UTC(2024, 2, 1 + version);
      for (const a of actions) {
        if (a.metaData) {
          a.metaData.configuration = {
            ...(a.metaData.configuration as object),
            'delta.enableInCommitTimestamps': 'true',
          };
        }
      }
      const ordered = [info, ...actions.filter((a) => a !== info)];
      await writeFile(join(log, file), `${ordered.map((a) => JSON.stringify(a)).join('\n')}\n`);
      const mtime = new Date(Date.UTC(2030, 0, 10 - version));
      await utimes(join(log, file), mtime, mtime);
    }
    const at = async (ts: string) =>
      (await engine.query(`SELECT count(*) FROM ml.sales.ict TIMESTAMP AS OF '${ts}'`)).scans[0]?.version;
    expect(await at('2024-03-01 12:00:00')).toBe(0);
    expect(await at('2024-03-02 12:00:00')).toBe(1);
    expect(await at('2024-03-03 00:00:00')).toBe(2);
    const late = await failure(engine.query("SELECT * FROM ml.sales.ict TIMESTAMP AS OF '2030-01-05'"));
    expect(late.code).toBe('VERSION_NOT_FOUND');
    expect(late.message).toContain('ml.sales.ict');
    expect(late.message).toContain('2024-03-03T00:00:00.000Z');
    const history = await rows(
      "SELECT _commit_version, _commit_timestamp::VARCHAR FROM table_changes('ml.sales.ict', '2024-03-02', '2024-03-03') ORDER BY 1",
    );
    expect(history.map((r) => r[0])).toEqual(['1', '2']);
  });

  it('reads different versions of one table in one statement, and prunes old versions too', async () => {
    const result = await engine.query(`
      SELECT (SELECT count(*) FROM ml.sales.orders VERSION AS OF 2 WHERE day = '2024-05-02'),
             (SELECT count(*) FROM ml.sales.orders)`);
    expect(result.rows).toEqual([['2', '5']]);
    expect(result.scans.map((s) => [s.version, s.filesRead, s.totalFiles])).toEqual([
      [2, 1, 2],
      [3, 3, 3],
    ]);
  });

  it('refuses time travel on a missing version or on something that is not a Delta table', async () => {
    const missing = await failure(engine.query('SELECT * FROM ml.sales.orders VERSION AS OF 9'));
    expect(missing.code).toBe('VERSION_NOT_FOUND');
    expect(missing.message).toContain('ml.sales.orders');
    await engine.query('CREATE TEMP TABLE plain_numbers AS SELECT 1 AS n');
    const plain = await failure(engine.query('SELECT * FROM plain_numbers VERSION AS OF 1'));
    expect(plain.code).toBe('INVALID_ARGUMENT');
    expect(plain.message).toContain('plain_numbers');
  });
});

describe('Engine: vacuumed versions', () => {
  it('fails with IO_ERROR naming the table, the version and the missing file, not a DuckDB error', async () => {
    const { table } = await registerTable('ml.sales.swept', [{ name: 'id', type: 'long' }]);
    await table.append('SELECT 1::BIGINT AS id');
    await table.overwrite('SELECT 2::BIGINT AS id');
    const [gone] = (await DeltaTable.open(table.path, { version: 1 })).snapshot.files.map((f) => f.path);
    await table.vacuum({ retentionHours: 0, enforceRetentionDuration: false });
    expect(await rows('SELECT id FROM ml.sales.swept')).toEqual([['2']]);
    for (const sql of [
      'SELECT * FROM ml.sales.swept VERSION AS OF 1',
      'SELECT count(*) FROM ml.sales.swept VERSION AS OF 1 WHERE id > 0',
      'SELECT (SELECT count(*) FROM ml.sales.swept), (SELECT count(*) FROM ml.sales.swept VERSION AS OF 1)',
    ]) {
      const error = await engine.query(sql).catch((e: unknown) => e);
      expect(isLarderError(error, 'IO_ERROR'), sql).toBe(true);
      const e = error as Error & {
        context: { table?: string; version?: number; file?: string };
        hint?: string;
      };
      expect(e.message).toContain('ml.sales.swept');
      expect(e.message).toContain(gone);
      expect(e.context).toMatchObject({ table: 'ml.sales.swept', version: 1, file: join(table.path, gone!) });
      expect(e.hint).toContain('VACUUM');
    }
    const byPath = await failure(engine.query(`SELECT * FROM read_delta('${table.path}', version => 1)`));
    expect(byPath.code).toBe('IO_ERROR');
    expect(byPath.message).toContain(gone);
    // A missing file that is no table's stays DuckDB's error.
    expect((await failure(engine.query("SELECT * FROM read_parquet('no-such-file.parquet')"))).code).toBe(
      'SQL_ERROR',
    );
  });
});

describe('Engine: table_changes', () => {
  it('reads the change data feed between versions or timestamps', async () => {
    const changes = await rows(
      "SELECT _commit_version, _change_type, order_id FROM table_changes('ml.sales.orders', 2) ORDER BY order_id",
    );
    expect(changes).toEqual([
      ['2', 'insert', '3'],
      ['2', 'insert', '4'],
      ['3', 'insert', '5'],
    ]);
    expect(await rows("SELECT count(*) FROM table_changes('ml.sales.orders', 1, 2)")).toEqual([['4']]);
    // Timestamps: the first commit at or after the start, the last at or before the end.
    expect(
      await rows(
        "SELECT DISTINCT _commit_version FROM table_changes('ml.sales.orders', '2024-01-02 12:00:00', '2024-01-04') ORDER BY 1",
      ),
    ).toEqual([['2'], ['3']]);
  });

  it('resolves a short table name with the current schema and names a table it cannot find', async () => {
    try {
      engine.useSchema('ml', 'sales');
      expect(await rows("SELECT count(*) FROM table_changes('orders', 3) AS c WHERE c.order_id = 5")).toEqual(
        [['1']],
      );
    } finally {
      engine.useSchema('main', 'default');
    }
    const missing = await failure(engine.query("SELECT * FROM table_changes('ml.sales.nothing', 0)"));
    expect(missing.code).toBe('TABLE_NOT_FOUND');
    expect(missing.message).toContain('ml.sales.nothing');
  });
});

describe('Engine: views', () => {
  it('expands views over views, resolving short names in the view’s own schema', async () => {
    await engine.metastore.createView({
      name: engine.parseName('ml.dash.big_orders'),
      sql: 'SELECT * FROM sales.orders WHERE amount >= 20',
    });
    await engine.metastore.createView({
      name: engine.parseName('ml.dash.big_order_days'),
      sql: 'SELECT day, count(*) AS n FROM big_orders GROUP BY day',
    });
    const result = await engine.query('SELECT * FROM ml.dash.big_order_days ORDER BY day');
    expect(result.rows).toEqual([
      ['2024-05-01', '1'],
      ['2024-05-02', '1'],
      ['2024-05-03', '1'],
    ]);
    expect(result.scans.map((s) => s.table)).toEqual(['ml.sales.orders']);
  });

  it('reads the tables under a view at their latest version', async () => {
    const { table } = await registerTable('ml.sales.clicks', [{ name: 'id', type: 'long' }]);
    await table.append('SELECT 1 AS id');
    await engine.metastore.createView({
      name: engine.parseName('ml.dash.click_count'),
      sql: 'SELECT count(*) AS n FROM ml.sales.clicks',
    });
    expect(await rows('SELECT n FROM ml.dash.click_count')).toEqual([['1']]);
    await table.append('SELECT 2 AS id');
    expect(await rows('SELECT n FROM ml.dash.click_count')).toEqual([['2']]);
  });

  it('refuses a cycle of views, naming it', async () => {
    await engine.metastore.createView({
      name: engine.parseName('ml.loop.a'),
      sql: 'SELECT * FROM ml.loop.b',
    });
    await engine.metastore.createView({ name: engine.parseName('ml.loop.b'), sql: 'SELECT * FROM a' });
    const cycle = await failure(engine.query('SELECT * FROM ml.loop.a'));
    expect(cycle.code).toBe('VIEW_CYCLE');
    expect(cycle.message).toContain('ml.loop.a → ml.loop.b → ml.loop.a');
  });

  it('refuses time travel on a view', async () => {
    const error = await failure(engine.query('SELECT * FROM ml.dash.big_orders VERSION AS OF 1'));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('view');
  });
});

describe('Engine: pruning and EXPLAIN', () => {
  const scanLines = (result: SqlResult) => result.rows.filter((r) => r[0] === 'delta_scan').map((r) => r[1]);

  it('prunes a partitioned table by its partition column', async () => {
    const sql = "SELECT * FROM ml.sales.orders WHERE day = '2024-05-02' AND amount > 1";
    const explained = await engine.explain(sql);
    expect(explained.kind).toBe('EXPLAIN');
    expect(explained.rows.some((r) => r[0] === 'physical_plan')).toBe(true);
    expect(scanLines(explained)).toEqual([
      "ml.sales.orders version 3: read 1 of 3 files (pruned by day = '2024-05-02' AND amount > 1)",
    ]);
    expect((await rows(sql)).map((r) => r[0])).toEqual(['3', '4']);
  });

  it('prunes an unpartitioned table by column stats', async () => {
    const explained = await engine.query(
      'EXPLAIN SELECT name FROM ml.sales.customers WHERE customer_id = 15',
    );
    expect(scanLines(explained)).toEqual([
      'ml.sales.customers version 3: read 1 of 3 files (pruned by customer_id = 15)',
    ]);
    expect(await rows('SELECT name FROM ml.sales.customers WHERE customer_id = 15')).toEqual([['c15']]);
    const all = await engine.explain('SELECT count(*) FROM ml.sales.customers');
    expect(scanLines(all)).toEqual([
      'ml.sales.customers version 3: read 3 of 3 files (no filter to prune by)',
    ]);
  });

  it('explains with ANALYZE and EXTENDED, and refuses unknown modes', async () => {
    const analyzed = await engine.explain(
      'SELECT count(*) FROM ml.sales.customers WHERE customer_id > 25',
      'analyze',
    );
    expect(analyzed.rows[0]?.[0]).toBe('analyzed_plan');
    expect(scanLines(analyzed)).toEqual([
      'ml.sales.customers version 3: read 1 of 3 files (pruned by customer_id > 25)',
    ]);
    const extended = await engine.query('EXPLAIN EXTENDED SELECT 1');
    expect(extended.rows.map((r) => r[0])).toContain('logical_opt');
    // The setting is restored afterwards.
    expect((await engine.explain('SELECT 1')).rows.map((r) => r[0])).toEqual(['physical_plan']);
    expect((await failure(engine.explain('SELECT 1', 'verbose'))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('Engine: Spark functions', () => {
  it('computes DATE, TIMESTAMPDIFF, DATEDIFF and TIMESTAMPADD as Spark does', async () => {
    const result = await rows(`SELECT
      DATE(TIMESTAMP '2024-05-01 23:59:00') AS d,
      TIMESTAMPDIFF(MINUTE, TIMESTAMP '2024-05-01 10:00:59', TIMESTAMP '2024-05-01 10:02:00') AS minutes,
      timestampdiff(hour, TIMESTAMPADD(MINUTE, 30, TIMESTAMP '2024-05-01 00:00:00'), TIMESTAMP '2024-05-01 03:00:00') AS hours,
      DATEDIFF(DATE '2024-05-10', DATE '2024-05-01') AS days,
      DATEDIFF(DAY, DATE '2024-05-01', DATE '2024-05-03') AS days_with_unit,
      datediff('day', DATE '2024-05-01', DATE '2024-05-04') AS duckdb_form,
      'TIMESTAMPDIFF(MINUTE, a, b)' AS text`);
    expect(result).toEqual([['2024-05-01', '1', '2', '9', '2', '3', 'TIMESTAMPDIFF(MINUTE, a, b)']]);
  });

  it('names an unknown TIMESTAMPDIFF unit', async () => {
    const error = await failure(engine.query('SELECT TIMESTAMPDIFF(FORTNIGHT, now(), now())'));
    expect(error.code).toBe('UNSUPPORTED_FEATURE');
    expect(error.message).toContain('FORTNIGHT');
  });
});

describe('Engine: the seed’s real-time performance dashboard', () => {
  /** The SQL block of the seed section "Real-time Performance Dashboard", verbatim. */
  async function dashboardStatements(): Promise<string[]> {
    const guide = await readFile(seedGuide, 'utf8');
    const section = guide.slice(guide.indexOf('### 3. Real-time Performance Dashboard'));
    const block = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
    if (!block) throw new Error('dashboard SQL block not found in the seed guide');
    return splitStatements(block).map((s) => s.text);
  }

  /** CREATE OR REPLACE VIEW name AS query: register the view as the SQL layer does. */
  async function createView(statement: string): Promise<string> {
    const match = /CREATE\s+OR\s+REPLACE\s+VIEW\s+(\w+)\s+AS\s+([\s\S]*)$/i.exec(statement);
    if (!match) throw new Error(`not a CREATE OR REPLACE VIEW: ${statement}`);
    await engine.metastore.createView({ name: engine.parseName(match[1]!), sql: match[2]!, orReplace: true });
    return match[1]!;
  }

  it('runs the three dashboard queries unchanged over feature tables', async () => {
    const { table: metrics } = await registerTable('ml.churn_features.feature_computation_metrics', [
      { name: 'run_id', type: 'string' },
      { name: 'run_timestamp', type: 'timestamp' },
      { name: 'num_customers_processed', type: 'long' },
      { name: 'num_features_computed', type: 'long' },
      { name: 'duration_seconds', type: 'double' },
      { name: 'rows_per_second', type: 'double' },
      { name: 'status', type: 'string' },
      { name: 'error_message', type: 'string' },
    ]);
    await metrics.append(`SELECT * FROM (VALUES
      ('r1', CURRENT_DATE - INTERVAL 1 DAY + INTERVAL 10 HOUR, 1000, 10, 10.0, 100.0, 'success', NULL),
      ('r2', CURRENT_DATE - INTERVAL 1 DAY + INTERVAL 11 HOUR, 1000, 10, 20.0, 50.0, 'failed', 'source missing'),
      ('r3', CURRENT_DATE - INTERVAL 2 DAY + INTERVAL 9 HOUR, 2000, 10, 40.0, 50.0, 'success', NULL),
      ('r4', CURRENT_DATE - INTERVAL 30 DAY, 500, 10, 5.0, 100.0, 'success', NULL)
    ) AS t(run_id, run_timestamp, num_customers_processed, num_features_computed, duration_seconds, rows_per_second, status, error_message)`);
    const { table: features } = await registerTable('ml.churn_features.customer_features', [
      { name: 'customer_id', type: 'long' },
      { name: 'days_since_last_transaction', type: 'integer' },
    ]);
    await features.append(
      'SELECT * FROM (VALUES (1, 5), (2, 70), (3, 90), (4, 10)) AS t(customer_id, days_since_last_transaction)',
    );

    const [performance, freshness, online, ...rest] = await dashboardStatements();
    expect(rest).toEqual([]);
    const days = await rows('SELECT (CURRENT_DATE - 1)::VARCHAR, (CURRENT_DATE - 2)::VARCHAR');

    const performanceView = await createView(performance!);
    expect(await rows(`SELECT * FROM ${performanceView}`)).toEqual([
      [days[0]![0], '2', 15, 75, '1'],
      [days[0]![1], '1', 40, 50, '0'],
    ]);

    const freshnessView = await createView(freshness!);
    expect(await rows(`SELECT * FROM ${freshnessView}`)).toEqual([[90, '4', '2', 0.5]]);

    const status = await engine.query(online!);
    expect(status.columns.map((c) => c.name)).toEqual([
      'table_name',
      'sync_status',
      'last_sync_time',
      'minutes_since_sync',
    ]);
    expect(status.rows).toEqual([]);
  });
});

describe('Engine: warehouse', () => {
  it('puts managed tables in the configured warehouse and creates no default one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'larder-engine-warehouse-'));
    try {
      const engine = await Engine.open({ projectDir: dir, warehouse: 'lake' });
      try {
        expect(engine.warehouseDir).toBe(join(dir, 'lake'));
        expect(engine.defaultLocation({ catalog: 'ML', schema: 's', table: 'T' })).toBe(
          join(dir, 'lake', 'ml', 's', 't'),
        );
        expect((await readdir(dir)).sort()).toEqual(['.larder', 'lake']);
        expect(await readdir(join(dir, '.larder'))).not.toContain('warehouse');
      } finally {
        await engine.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
