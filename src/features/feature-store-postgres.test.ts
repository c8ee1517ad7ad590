/**
 * The whole feature table cycle (create, write, read, tag, drop) with the
 * PostgreSQL catalog (`LARDER_TEST_POSTGRES_URL`, default
 * `postgres://postgres@127.0.0.1:5432/test`), in a fresh schema dropped
 * afterwards; and a second store on the same catalog sees the first's tables.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropTestSchema, TEST_POSTGRES_URL } from '../../test/support/postgres.js';
import { PostgresMetastore } from '../catalog/postgres/postgres-metastore.js';
import { FeatureStore } from './feature-store.js';

const postgresUrl = TEST_POSTGRES_URL;

let dir: string;
let schema: string;
const metastores: PostgresMetastore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-features-pg-'));
  schema = `larder_test_${randomUUID().replaceAll('-', '')}`;
});

afterEach(async () => {
  for (const m of metastores.splice(0)) await m.close();
  await dropTestSchema(schema, postgresUrl);
  await rm(dir, { recursive: true, force: true });
});

async function openStore(): Promise<FeatureStore> {
  const metastore = await PostgresMetastore.open(postgresUrl, { schema });
  metastores.push(metastore);
  return FeatureStore.open({ projectDir: dir, metastore });
}

describe('FeatureStore with the PostgreSQL catalog', () => {
  it('creates, writes, reads, tags and drops a feature table', async () => {
    const fs = await openStore();
    const other = await openStore();
    try {
      const table = await fs.createTable({
        name: 'ml.churn_features.customer_features',
        primaryKeys: 'customer_id',
        schema: { customer_id: 'long', n_tx: 'integer' },
        tags: { team: 'growth' },
        owner: 'alice',
        df: [{ customer_id: 1n, n_tx: 1 }],
      });
      await fs.writeTable({
        name: table,
        df: 'SELECT * FROM (VALUES (1::BIGINT, 5, 0.5::DOUBLE), (2::BIGINT, 2, 1.5::DOUBLE)) AS t(customer_id, n_tx, score)',
        mergeSchema: true,
      });
      const seen = await other.getTable('ml.churn_features.customer_features');
      expect(seen.primaryKeys).toEqual(['customer_id']);
      expect(seen.owner).toBe('alice');
      expect(seen.features.map((f) => `${f.name}:${f.type}`)).toEqual(['n_tx:integer', 'score:double']);
      const rows = (await other.readTable(seen))
        .toArray()
        .map((r) => r.toJSON())
        .sort((a, b) => Number(a.customer_id) - Number(b.customer_id));
      expect(rows).toEqual([
        { customer_id: 1n, n_tx: 5, score: 0.5 },
        { customer_id: 2n, n_tx: 2, score: 1.5 },
      ]);
      await other.setTableTag({ name: seen, key: 'tier', value: 'gold' });
      expect((await fs.getTable(table)).tags).toEqual({ team: 'growth', tier: 'gold' });
      expect((await fs.listTables({ catalog: 'ml' })).map((t) => t.fullName)).toEqual([
        'ml.churn_features.customer_features',
      ]);
      await fs.dropTable(table);
      expect(await other.listTables()).toEqual([]);
      expect(await stat(table.location).catch(() => undefined)).toBeUndefined();
    } finally {
      await fs.close();
      await other.close();
    }
  });
});
