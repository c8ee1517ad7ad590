import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import type { Snapshot } from '../log/snapshot.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { createTable } from './create.js';
import { tableHistory } from './history.js';
import { setTableProperties } from './set-properties.js';

describe('setTableProperties', () => {
  let dir: string;
  let v0: Snapshot;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-props-'));
    ({ table: v0 } = await createTable(join(dir, 't'), {
      schema: [{ name: 'id', type: 'long' }],
      properties: {
        'delta.enableDeletionVectors': 'false',
        'delta.enableChangeDataFeed': 'false',
        owner: 'a',
      },
    }));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sets and unsets properties in metadata-only commits recorded in the history', async () => {
    const { table: v1 } = await setTableProperties(v0, { set: { owner: 'b', 'delta.appendOnly': true } });
    expect(v1.version).toBe(1);
    expect(v1.properties).toMatchObject({ owner: 'b', 'delta.appendOnly': 'true' });
    const { table: v2 } = await setTableProperties(v1, { unset: ['owner', 'missing'], ifExists: true });
    expect(v2.properties.owner).toBeUndefined();
    expect(v2.metadata.id).toBe(v0.metadata.id);
    const history = await tableHistory(new LocalLogStore(v0.root));
    expect(history.map((h) => h.operation)).toEqual([
      'UNSET TBLPROPERTIES',
      'SET TBLPROPERTIES',
      'CREATE TABLE',
    ]);
  });

  it('upgrades the protocol when a property needs a table feature, keeping the old ones', async () => {
    expect(v0.protocol.minWriterVersion).toBe(2);
    const { table } = await setTableProperties(v0, { set: { 'delta.enableDeletionVectors': 'true' } });
    expect(table.protocol).toMatchObject({ minReaderVersion: 3, minWriterVersion: 7 });
    expect(table.protocol.readerFeatures).toContain('deletionVectors');
    expect(table.protocol.writerFeatures).toEqual(
      expect.arrayContaining(['appendOnly', 'invariants', 'deletionVectors']),
    );
  });

  it('refuses to unset a missing property without IF EXISTS and to change column mapping, committing nothing', async () => {
    const missing = await setTableProperties(v0, { unset: ['nope'] }).catch((e: unknown) => e);
    expect(isLarderError(missing, 'INVALID_ARGUMENT')).toBe(true);
    const mapping = await setTableProperties(v0, { set: { 'delta.columnMapping.mode': 'name' } }).catch(
      (e: unknown) => e,
    );
    expect(isLarderError(mapping, 'UNSUPPORTED_FEATURE')).toBe(true);
    expect(await tableHistory(new LocalLogStore(v0.root))).toHaveLength(1);
  });

  it('commits nothing when nothing changes', async () => {
    const { table } = await setTableProperties(v0, { set: { owner: 'a' } });
    expect(table.version).toBe(0);
  });
});
