/**
 * Two processes on one catalog, for every backend: this process holds a
 * metastore open while a child process (`workers/catalog-worker.ts`, run with
 * `node --import tsx`) reads a tag set here, sets a tag and registers a
 * feature table; this process sees the child's changes on its next read,
 * without reopening.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Metastore } from '../src/catalog/metastore.js';
import { PostgresMetastore } from '../src/catalog/postgres/postgres-metastore.js';
import { SqliteMetastore } from '../src/catalog/sqlite/sqlite-metastore.js';
import { dropTestSchema, TEST_POSTGRES_URL } from './support/postgres.js';

const WORKER = resolve(import.meta.dirname, 'workers', 'catalog-worker.ts');
const postgresUrl = TEST_POSTGRES_URL;

/** One fresh catalog: how this process opens it, the worker's arguments for it, and its cleanup. */
interface Place {
  readonly open: () => Promise<Metastore>;
  readonly workerArgs: readonly string[];
  readonly cleanup: () => Promise<void>;
}

const backends: { readonly name: string; readonly fresh: () => Promise<Place> }[] = [
  {
    name: 'sqlite',
    fresh: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'larder-catalog-processes-'));
      const file = join(dir, 'catalog.db');
      return {
        open: () => SqliteMetastore.open(file),
        workerArgs: ['sqlite', file],
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    fresh: async () => {
      const schema = `larder_test_${randomUUID().replaceAll('-', '')}`;
      return {
        open: () => PostgresMetastore.open(postgresUrl, { schema }),
        workerArgs: ['postgres', postgresUrl, schema],
        cleanup: async () => {
          await dropTestSchema(schema, postgresUrl);
        },
      };
    },
  },
];

function runWorker(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

for (const backend of backends) {
  describe(`${backend.name} catalog shared by two processes`, () => {
    it('shows each process the tags and feature tables the other writes, while both hold it open', async () => {
      const place = await backend.fresh();
      const metastore = await place.open();
      try {
        const parent = { catalog: 'ml', schema: 'proc', table: 'parent_table' };
        const child = { catalog: 'ml', schema: 'proc', table: 'child_features' };
        const created = await metastore.createTable({
          name: parent,
          location: '/data/parent_table',
          managed: false,
          tags: { from_parent: 'yes' },
        });
        // Read once before the child runs, so anything this handle caches is warm.
        expect(await metastore.getTable(child)).toBeUndefined();
        expect((await metastore.getTable(parent))?.tags).toEqual({ from_parent: 'yes' });

        const run = await runWorker(place.workerArgs);
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        expect(run.stdout.split('\n')).toEqual(['tags={"from_parent":"yes"}', 'done', '']);

        const seenParent = await metastore.getTable(parent);
        expect(seenParent?.tags).toEqual({ from_parent: 'yes', from_child: 'yes' });
        expect(seenParent?.updatedAt).toBeGreaterThan(created.updatedAt);
        const seenChild = await metastore.getTable(child);
        expect(seenChild?.tags).toEqual({ team: 'growth' });
        expect(seenChild?.feature).toEqual({
          primaryKeys: ['customer_id'],
          partitionColumns: [],
          clusterBy: [],
          features: [{ name: 'n_tx', type: 'long', description: 'transactions' }],
          lineage: { pipeline: 'child', sources: ['raw_transactions'] },
        });
        expect((await metastore.listTables({ schema: 'proc' })).map((t) => t.fullName)).toEqual([
          'ml.proc.child_features',
          'ml.proc.parent_table',
        ]);
      } finally {
        await metastore.close();
        await place.cleanup();
      }
    });
  });
}
