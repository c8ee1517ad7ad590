/**
 * Delta Acceptance Testing (DAT v0.0.3): every reader case Spark wrote, at
 * every version the case records. For each, the snapshot's version, protocol
 * versions and properties must equal `table_version_metadata.json`, and the
 * rows planScan returns must equal `table_content/*.parquet` as a multiset
 * (compared in DuckDB by column name, each value cast to the schema's type
 * and then to text, so INT96 and TIMESTAMPTZ files compare alike).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../src/delta/log/replay.js';
import { toDuckDBType } from '../src/delta/log/schema.js';
import type { Snapshot } from '../src/delta/log/snapshot.js';
import { planScan } from '../src/delta/scan/scan.js';
import { LocalLogStore } from '../src/delta/storage/local-log-store.js';
import { connect, queryJson, sqlIdent, sqlStringList } from '../src/duckdb/duckdb.js';

const GENERATED = resolve(import.meta.dirname, '..', 'test/fixtures/delta-acceptance/reader_tests/generated');
const CASES = readdirSync(GENERATED).sort();

interface VersionMetadata {
  readonly version: number;
  readonly properties: Record<string, string>;
  readonly min_reader_version: number;
  readonly min_writer_version: number;
}

let connection: DuckDBConnection;
beforeAll(async () => {
  connection = await connect();
});
afterAll(() => {
  connection.closeSync();
});

function expectedVersions(name: string): string[] {
  return readdirSync(join(GENERATED, name, 'expected')).sort();
}

async function openAt(name: string, folder: string): Promise<Snapshot> {
  const store = new LocalLogStore(join(GENERATED, name, 'delta'));
  return folder === 'latest'
    ? loadSnapshot(store)
    : loadSnapshot(store, { version: Number(folder.slice(1)) });
}

/** Each column of the schema, cast to its Delta type's DuckDB type and then to text. */
function canonicalColumns(snapshot: Snapshot): string {
  return snapshot.schema.fields
    .map(
      (f) => `CAST(CAST(${sqlIdent(f.name)} AS ${toDuckDBType(f.type)}) AS VARCHAR) AS ${sqlIdent(f.name)}`,
    )
    .join(', ');
}

it('finds the 19 DAT reader cases', () => {
  expect(CASES).toHaveLength(19);
});

describe.each(CASES)('DAT case %s', (name) => {
  it.each(expectedVersions(name))('reads version folder %s as Spark wrote it', async (folder) => {
    const expectedDir = join(GENERATED, name, 'expected', folder);
    const metadata = JSON.parse(
      readFileSync(join(expectedDir, 'table_version_metadata.json'), 'utf8'),
    ) as VersionMetadata;

    const snapshot = await openAt(name, folder);
    expect(snapshot.version).toBe(metadata.version);
    expect(snapshot.protocol.minReaderVersion).toBe(metadata.min_reader_version);
    expect(snapshot.protocol.minWriterVersion).toBe(metadata.min_writer_version);
    expect({ ...snapshot.properties }).toEqual(metadata.properties);

    const contentDir = join(expectedDir, 'table_content');
    const parts = readdirSync(contentDir)
      .filter((f) => f.endsWith('.parquet') && !f.startsWith('.') && !f.startsWith('_'))
      .map((f) => join(contentDir, f));
    expect(parts.length).toBeGreaterThan(0);
    const expectedTable = `read_parquet(${sqlStringList(parts)}, union_by_name = true)`;

    const described = await queryJson(connection, `DESCRIBE SELECT * FROM ${expectedTable}`);
    expect(described.map((r) => String(r.column_name)).sort()).toEqual(
      snapshot.schema.fields.map((f) => f.name).sort(),
    );

    const plan = await planScan(snapshot);
    expect(plan.totalFiles).toBe(snapshot.files.length);
    const columns = canonicalColumns(snapshot);
    const actual = `(SELECT ${columns} FROM (${plan.sql}))`;
    const expected = `(SELECT ${columns} FROM ${expectedTable})`;
    const [counts] = await queryJson(
      connection,
      `SELECT (SELECT count(*) FROM ${actual}) AS actual, (SELECT count(*) FROM ${expected}) AS expected`,
    );
    expect(counts?.actual).toBe(counts?.expected);
    expect(
      await queryJson(connection, `${actual} EXCEPT ALL ${expected}`),
      'rows Larder returned that Spark did not',
    ).toEqual([]);
    expect(
      await queryJson(connection, `${expected} EXCEPT ALL ${actual}`),
      'rows Spark wrote that Larder missed',
    ).toEqual([]);
  });
});
