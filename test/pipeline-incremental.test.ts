/**
 * Incremental runs equal full recomputes. A seeded random workload changes
 * the sources round after round (new customers, inserts, updates,
 * deletions by update, late-arriving rows with an old event day but a new
 * change timestamp, customers appearing after their transactions, rounds
 * with no change), and after every round each pipeline runs (incrementally,
 * now and then with `full: true`). The feature table must then hold exactly
 * what the pipeline's SQL gives over the whole ground truth, computed apart
 * in DuckDB: a per-customer aggregate with an unkeyed lookup source, and a
 * daily time series. The comparison is exact (deep equality; money is
 * DECIMAL and compared as its digit strings), with no tolerance.
 *
 * The transactions source is a Delta table, a PostgreSQL table or a Parquet
 * file; customers are a Delta table. Replay a failure with
 * `LARDER_TEST_SEED=<seed printed in the test name>`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LarderConfig, SourceConfig } from '../src/config/define-config.js';
import { DeltaTable } from '../src/delta/delta-table.js';
import { connect, sqlString } from '../src/duckdb/duckdb.js';
import { Engine } from '../src/engine/engine.js';
import { type RunResult, runPipeline } from '../src/pipelines/run-pipeline.js';
import { TEST_POSTGRES_URL } from './support/postgres.js';

const PG_URL = TEST_POSTGRES_URL;
const ROUNDS = Number(process.env.LARDER_TEST_ROUNDS ?? 22);

type Customer = {
  customer_id: number;
  country: string;
  deleted: boolean;
  _change_timestamp: string;
};

type Transaction = {
  transaction_id: number;
  customer_id: number;
  day: string;
  amount: string;
  category: string;
  deleted: boolean;
  _change_timestamp: string;
};

const CUSTOMER_COLUMNS = `{customer_id: 'BIGINT', country: 'VARCHAR', deleted: 'BOOLEAN', _change_timestamp: 'TIMESTAMPTZ'}`;
const TRANSACTION_COLUMNS = `{transaction_id: 'BIGINT', customer_id: 'BIGINT', day: 'DATE', amount: 'DECIMAL(10,2)', category: 'VARCHAR', deleted: 'BOOLEAN', _change_timestamp: 'TIMESTAMPTZ'}`;
const CATEGORIES = ['food', 'travel', 'games', 'books'];

const CUSTOMER_SQL = `
  SELECT c.customer_id, c.country,
         count(t.transaction_id) AS n_tx,
         coalesce(sum(t.amount), 0)::DECIMAL(18,2) AS spend,
         coalesce(sum(t.amount * w.weight), 0)::DECIMAL(18,4) AS weighted_spend,
         max(t.day) AS last_day,
         count(DISTINCT t.category) AS n_categories
    FROM customers c
    LEFT JOIN transactions t ON t.customer_id = c.customer_id AND NOT t.deleted
    LEFT JOIN category_weights w ON w.category = t.category
   WHERE NOT c.deleted
   GROUP BY c.customer_id, c.country`;

const DAILY_SQL = `
  -- one row per customer and day with a live transaction
  WITH live AS (SELECT * FROM transactions WHERE NOT deleted)
  SELECT customer_id, day, count(*) AS n_tx, sum(amount)::DECIMAL(18,2) AS spend
    FROM live GROUP BY customer_id, day;`;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where the transactions live; every backend stores the rows it is given (upserts by id). */
interface TransactionStore {
  readonly source: SourceConfig;
  write(changed: readonly Transaction[], all: readonly Transaction[]): Promise<void>;
  close(): Promise<void>;
}

for (const backend of ['delta', 'postgres', 'parquet'] as const) {
  describe(`incremental pipelines over ${backend} transactions`, () => {
    const seed = Number(process.env.LARDER_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = prng(seed);
    const int = (n: number) => Math.floor(random() * n);
    let dir: string;
    let engine: Engine;
    let customersTable: DeltaTable;
    let transactions: TransactionStore;
    let config: LarderConfig;
    const customers = new Map<number, Customer>();
    const txs = new Map<number, Transaction>();
    let nextCustomer = 1;
    let nextTx = 1;
    let clock = Date.UTC(2024, 5, 1);

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `larder-incremental-${backend}-`));
      engine = await Engine.open({ projectDir: dir });
      customersTable = await DeltaTable.create(join(dir, 'data', 'customers'), {
        schema: [
          { name: 'customer_id', type: 'long', nullable: false },
          { name: 'country', type: 'string' },
          { name: 'deleted', type: 'boolean' },
          { name: '_change_timestamp', type: 'timestamp' },
        ],
      });
      const weights = join(dir, 'data', 'category_weights.parquet');
      await engine.connection.run(
        `COPY (SELECT * FROM (VALUES ('food', 1.50), ('travel', 0.25), ('games', 2.00)) w(category, weight)) TO ${sqlString(weights)} (FORMAT parquet)`,
      );
      transactions = await openStore(backend, dir);
      config = {
        sources: {
          customers: { type: 'delta', path: 'data/customers', changeColumn: '_change_timestamp' },
          transactions: transactions.source,
          category_weights: { type: 'parquet', path: 'data/category_weights.parquet' },
        },
        entities: { customer: { keys: ['customer_id'] } },
        featureTables: {
          'ml.features.customer_features': { entity: 'customer' },
          'ml.features.daily_activity': { entity: 'customer', timeseriesColumn: 'day' },
        },
        pipelines: {
          customer_features: {
            output: 'ml.features.customer_features',
            sources: ['customers', 'transactions', 'category_weights'],
            sql: CUSTOMER_SQL,
            incremental: { key: 'customer_id' },
          },
          daily_activity: {
            output: 'ml.features.daily_activity',
            sources: ['transactions'],
            sql: ({ mode }) => `${DAILY_SQL} -- ${mode}`,
            incremental: { key: 'customer_id', sources: ['transactions'] },
          },
        },
      };
    });
    afterAll(async () => {
      await transactions?.close();
      await engine?.close();
      await rm(dir, { recursive: true, force: true });
    });

    /** One round of random changes, all stamped after every earlier change. */
    function changeRound(): { customers: Customer[]; transactions: Transaction[] } {
      clock += 60_000;
      let micros = 0;
      const stamp = () =>
        `${new Date(clock).toISOString().slice(0, 19)}.${String(++micros).padStart(6, '0')}+00`;
      const changedCustomers = new Map<number, Customer>();
      const changedTxs = new Map<number, Transaction>();
      const upsertCustomer = (c: Customer) => {
        const row = { ...c, _change_timestamp: stamp() };
        customers.set(row.customer_id, row);
        changedCustomers.set(row.customer_id, row);
      };
      const upsertTx = (t: Transaction) => {
        const row = { ...t, _change_timestamp: stamp() };
        txs.set(row.transaction_id, row);
        changedTxs.set(row.transaction_id, row);
      };
      const day = (back: number) => new Date(clock - back * 86_400_000).toISOString().slice(0, 10);
      const amount = () => (1 + int(20000) / 100).toFixed(2);
      const existingTx = () => [...txs.values()][int(txs.size)];
      const existingCustomer = () => [...customers.values()][int(customers.size)];
      if (random() < 0.1 && customers.size > 0) return { customers: [], transactions: [] };

      for (let i = int(3); i > 0; i--) {
        upsertCustomer({
          customer_id: nextCustomer++,
          country: ['FR', 'DE', 'US'][int(3)]!,
          deleted: false,
          _change_timestamp: '',
        });
      }
      for (let i = int(3); i > 0 && customers.size > 0; i--) {
        const c = existingCustomer()!;
        upsertCustomer({ ...c, country: ['FR', 'DE', 'US', 'ES'][int(4)]! });
      }
      if (random() < 0.3 && customers.size > 0) {
        const c = existingCustomer()!;
        upsertCustomer({ ...c, deleted: !c.deleted });
      }
      for (let i = int(9); i > 0; i--) {
        // Sometimes for a customer that does not exist yet: it arrives in a later round.
        upsertTx({
          transaction_id: nextTx++,
          customer_id: 1 + int(nextCustomer + 1),
          day: day(int(5)),
          amount: amount(),
          category: CATEGORIES[int(CATEGORIES.length)]!,
          deleted: false,
          _change_timestamp: '',
        });
      }
      for (let i = int(3); i > 0; i--) {
        // Late-arriving: an old event day, a new change timestamp.
        upsertTx({
          transaction_id: nextTx++,
          customer_id: 1 + int(nextCustomer),
          day: day(30 + int(300)),
          amount: amount(),
          category: CATEGORIES[int(CATEGORIES.length)]!,
          deleted: false,
          _change_timestamp: '',
        });
      }
      for (let i = int(4); i > 0 && txs.size > 0; i--) {
        const t = existingTx()!;
        upsertTx({
          ...t,
          amount: amount(),
          category: CATEGORIES[int(CATEGORIES.length)]!,
          day: random() < 0.3 ? day(int(10)) : t.day,
        });
      }
      for (let i = int(3); i > 0 && txs.size > 0; i--) {
        const t = existingTx()!;
        upsertTx({ ...t, deleted: random() < 0.85 });
      }
      return { customers: [...changedCustomers.values()], transactions: [...changedTxs.values()] };
    }

    /** The pipeline's SQL over the whole ground truth, computed apart from Larder's run path. */
    async function expected(sql: string, orderBy: string): Promise<readonly (readonly unknown[])[]> {
      const connection = await connect();
      const files = {
        customers: join(dir, 'truth-customers.json'),
        transactions: join(dir, 'truth-transactions.json'),
      };
      try {
        await writeFile(files.customers, [...customers.values()].map((r) => JSON.stringify(r)).join('\n'));
        await writeFile(files.transactions, [...txs.values()].map((r) => JSON.stringify(r)).join('\n'));
        for (const [name, columns] of [
          ['customers', CUSTOMER_COLUMNS],
          ['transactions', TRANSACTION_COLUMNS],
        ] as const) {
          await connection.run(
            `CREATE TEMP TABLE ${name} AS SELECT * FROM read_json(${sqlString(files[name])}, format = 'newline_delimited', columns = ${columns})`,
          );
        }
        await connection.run(
          `CREATE TEMP TABLE category_weights AS SELECT * FROM read_parquet(${sqlString(join(dir, 'data', 'category_weights.parquet'))})`,
        );
        const body = sql.trim().replace(/;$/, '');
        const reader = await connection.runAndReadAll(`SELECT * FROM (${body}\n) ORDER BY ${orderBy}`);
        return reader.getRowsJson();
      } finally {
        connection.closeSync();
      }
    }

    async function actual(
      table: string,
      columns: string,
      orderBy: string,
    ): Promise<readonly (readonly unknown[])[]> {
      return (await engine.query(`SELECT ${columns} FROM ${table} ORDER BY ${orderBy}`)).rows;
    }

    it(`gives the full recompute's content after every round (seed ${seed})`, async () => {
      const modes = { full: 0, incremental: 0, committedNothing: 0, deleted: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        const changes = changeRound();
        if (changes.customers.length > 0)
          await customersTable.merge({ source: changes.customers, on: ['customer_id'] });
        if (changes.transactions.length > 0)
          await transactions.write(changes.transactions, [...txs.values()]);

        for (const [pipeline, table, columns, orderBy, sql] of [
          [
            'customer_features',
            'ml.features.customer_features',
            'customer_id, country, n_tx, spend, weighted_spend, last_day, n_categories',
            'customer_id',
            CUSTOMER_SQL,
          ],
          [
            'daily_activity',
            'ml.features.daily_activity',
            'customer_id, day, n_tx, spend',
            'customer_id, day',
            DAILY_SQL,
          ],
        ] as const) {
          const full = round > 2 && random() < 0.1;
          const result: RunResult = await runPipeline({ engine, config, pipeline, full });
          modes[result.mode]++;
          if (!result.committed) modes.committedNothing++;
          modes.deleted += result.rowsDeleted;
          const want = await expected(sql, orderBy);
          const got = await actual(table, columns, orderBy);
          expect(got, `${pipeline} after round ${round} (${result.mode}; seed ${seed})`).toEqual(want);
        }
      }
      // The workload exercised what it is meant to.
      expect(modes.incremental, `seed ${seed}`).toBeGreaterThan(ROUNDS);
      expect(modes.deleted, `seed ${seed}`).toBeGreaterThan(0);
    });
  });
}

async function openStore(backend: 'delta' | 'postgres' | 'parquet', dir: string): Promise<TransactionStore> {
  const schema = [
    { name: 'transaction_id', type: 'long', nullable: false },
    { name: 'customer_id', type: 'long' },
    { name: 'day', type: 'date' },
    { name: 'amount', type: 'decimal(10,2)' },
    { name: 'category', type: 'string' },
    { name: 'deleted', type: 'boolean' },
    { name: '_change_timestamp', type: 'timestamp' },
  ];
  if (backend === 'delta') {
    const table = await DeltaTable.create(join(dir, 'data', 'transactions'), { schema });
    return {
      source: { type: 'delta', path: 'data/transactions', changeColumn: '_change_timestamp' },
      write: async (changed) => {
        await table.merge({ source: changed, on: ['transaction_id'] });
      },
      close: async () => undefined,
    };
  }
  if (backend === 'parquet') {
    const path = join(dir, 'data', 'transactions.parquet');
    const rewrite = async (all: readonly Transaction[]) => {
      const connection = await connect();
      const json = join(dir, 'transactions.json');
      try {
        await writeFile(json, all.map((t) => JSON.stringify(t)).join('\n'));
        await connection.run(
          `COPY (SELECT * FROM read_json(${sqlString(json)}, columns = ${TRANSACTION_COLUMNS})) TO ${sqlString(path)} (FORMAT parquet)`,
        );
      } finally {
        connection.closeSync();
      }
    };
    await rewrite([]);
    return {
      source: { type: 'parquet', path: 'data/transactions.parquet', changeColumn: '_change_timestamp' },
      write: (_changed, all) => rewrite(all),
      close: async () => undefined,
    };
  }
  const pgSchema = `larder_inc_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${pgSchema}`);
  await client.query(`CREATE TABLE ${pgSchema}.transactions (
    transaction_id bigint PRIMARY KEY, customer_id bigint, day date, amount numeric(10,2), category text,
    deleted boolean, _change_timestamp timestamptz)`);
  return {
    source: {
      type: 'postgres',
      url: PG_URL,
      table: `${pgSchema}.transactions`,
      changeColumn: '_change_timestamp',
    },
    write: async (changed) => {
      await client.query(
        `INSERT INTO ${pgSchema}.transactions
           SELECT * FROM json_populate_recordset(NULL::${pgSchema}.transactions, $1)
         ON CONFLICT (transaction_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, day = EXCLUDED.day,
           amount = EXCLUDED.amount, category = EXCLUDED.category, deleted = EXCLUDED.deleted,
           _change_timestamp = EXCLUDED._change_timestamp`,
        [JSON.stringify(changed)],
      );
    },
    close: async () => {
      await client.query(`DROP SCHEMA ${pgSchema} CASCADE`);
      await client.end();
    },
  };
}
