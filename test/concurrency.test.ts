/**
 * Concurrency: several processes append and merge into one table at once.
 * Every operation either lands or fails with CONCURRENT_MODIFICATION; blind
 * appends always land; the final table holds exactly the rows the successful
 * operations imply, none lost or duplicated.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../src/delta/delta-table.js';
import { readTableRows } from '../src/delta/scan/scan.js';
import { spawnWorker } from './workers/spawn-worker.js';

const WORKERS = 3;
const ROUNDS = 16;

interface OpLine {
  readonly op: 'append' | 'merge';
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly ids: number[];
  readonly value: number;
}

describe('concurrent writers', () => {
  let dir: string;
  let path: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-concurrency-'));
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

  it('lands every append, fails merges only with CONCURRENT_MODIFICATION, and loses no row', async () => {
    const workers = Array.from({ length: WORKERS }, (_, w) =>
      spawnWorker(['concurrent', path, String(w + 1), String(ROUNDS)]),
    );
    const exits = await Promise.all(workers.map((w) => w.exited));
    exits.forEach((e, i) => {
      expect(e.code, workers[i]!.stderr()).toBe(0);
    });

    const expected = new Map<number, number>();
    let appends = 0;
    let merges = 0;
    for (const worker of workers) {
      const ops = worker.lines.map((l) => JSON.parse(l) as OpLine);
      expect(ops).toHaveLength(ROUNDS);
      for (const op of ops) {
        if (op.op === 'append') {
          expect(op, 'a blind append must always land').toMatchObject({ ok: true });
          appends++;
        } else if (!op.ok) {
          expect(op.code, op.message).toBe('CONCURRENT_MODIFICATION');
        } else merges++;
        if (op.ok) for (const id of op.ids) expected.set(id, op.value);
      }
    }
    expect(appends).toBe((WORKERS * ROUNDS) / 2);
    expect(merges).toBeGreaterThan(0);

    const table = await DeltaTable.open(path);
    const rows = await readTableRows(table.snapshot);
    const ids = rows.map((r) => Number(r.id));
    expect(new Set(ids).size, 'no duplicated rows').toBe(ids.length);
    const actual = new Map(rows.map((r) => [Number(r.id), Number(r.value)]));
    expect([...actual.entries()].sort((a, b) => a[0] - b[0])).toEqual(
      [...expected.entries()].sort((a, b) => a[0] - b[0]),
    );
  });
});
