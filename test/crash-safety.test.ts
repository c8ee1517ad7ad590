/**
 * Crash safety: writer processes are killed with SIGKILL at random moments of
 * appends, merges and deletes. After every kill the table must read at its
 * latest committed version with exactly that version's rows, older versions
 * must still read, and the next writer must carry on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../src/delta/delta-table.js';
import { readTableRows } from '../src/delta/scan/scan.js';
import { spawnWorker } from './workers/spawn-worker.js';
import { expectedRows } from './workers/workload.js';

const KILLS = Number(process.env.LARDER_CRASH_KILLS ?? 24);

async function rowsAt(path: string, version?: number): Promise<Map<number, number>> {
  const table = await DeltaTable.open(path, version === undefined ? {} : { version });
  const rows = await readTableRows(table.snapshot);
  return new Map(rows.map((r) => [Number(r.id), Number(r.value)]));
}

function sorted(rows: Map<number, number>): [number, number][] {
  return [...rows.entries()].sort((a, b) => a[0] - b[0]);
}

describe('crash safety', () => {
  let dir: string;
  let path: string;
  const seed = Number(process.env.LARDER_SEED ?? Date.now() % 1_000_000);
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-crash-'));
    path = join(dir, 'table');
    await DeltaTable.create(path, {
      schema: [
        { name: 'id', type: 'long', nullable: false },
        { name: 'value', type: 'long', nullable: true },
      ],
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`keeps every committed version readable with exactly its rows across ${KILLS} SIGKILLs (seed ${seed})`, async () => {
    let lastVersion = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const worker = spawnWorker(['crash', path]);
      await worker.waitFor('ready');
      await new Promise((r) => setTimeout(r, 20 + random() * 400));
      worker.child.kill('SIGKILL');
      const { signal } = await worker.exited;
      expect(signal, `worker died on its own: ${worker.stderr()}`).toBe('SIGKILL');

      const table = await DeltaTable.open(path);
      expect(table.version).toBeGreaterThanOrEqual(lastVersion);
      expect(sorted(await rowsAt(path)), `rows at version ${table.version} (seed ${seed})`).toEqual(
        sorted(expectedRows(table.version)),
      );
      if (table.version > 0) {
        const earlier = Math.floor(random() * table.version);
        expect(sorted(await rowsAt(path, earlier)), `rows at version ${earlier} (seed ${seed})`).toEqual(
          sorted(expectedRows(earlier)),
        );
      }
      lastVersion = table.version;
    }
    // The writers made progress through appends, merges and deletes.
    expect(lastVersion).toBeGreaterThanOrEqual(6);
  });
});
