import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeltaTable } from '../delta/delta-table.js';
import { FeatureStore } from './feature-store.js';

let dir: string;
let fs: FeatureStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-features-managed-'));
  fs = await FeatureStore.open({ projectDir: dir });
});

afterEach(async () => {
  await fs.close();
  await rm(dir, { recursive: true, force: true });
});

/** The `isManaged` parameter of the CREATE TABLE commit (version 0) of the table at `location`. */
async function createCommitIsManaged(location: string): Promise<unknown> {
  const history = await (await DeltaTable.open(location)).history();
  const created = history.find((h) => h.version === 0);
  expect(created?.operation).toBe('CREATE TABLE');
  return created?.operationParameters.isManaged;
}

describe('createTable records in the CREATE TABLE commit whether the table is managed', () => {
  it('isManaged is true for a table in the engine’s default location, false for one at a given location', async () => {
    const managed = await fs.createTable({
      name: 'ml.f.managed',
      primaryKeys: ['id'],
      schema: { id: 'long', score: 'double' },
    });
    expect(managed.location).toBe(
      fs.engine.defaultLocation({ catalog: 'ml', schema: 'f', table: 'managed' }),
    );
    expect(await createCommitIsManaged(managed.location)).toBe('true');

    const external = await fs.createTable({
      name: 'ml.f.external',
      primaryKeys: ['id'],
      schema: { id: 'long', score: 'double' },
      location: 'data/external',
    });
    expect(external.location).toBe(join(dir, 'data', 'external'));
    expect(await createCommitIsManaged(external.location)).toBe('false');
  });
});
