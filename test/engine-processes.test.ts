/**
 * Two processes on one project: an engine here and one in a child process
 * (`workers/engine-worker.ts`, run with `node --import tsx`) share the
 * project's SQLite catalog while both are open, and each sees the tables the
 * other registers.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../src/delta/delta-table.js';
import { Engine } from '../src/engine/engine.js';

const WORKER = resolve(import.meta.dirname, 'workers', 'engine-worker.ts');

let projectDir: string;
let engine: Engine;

function runWorker(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, projectDir], {
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

beforeAll(async () => {
  projectDir = await mkdtemp(join(tmpdir(), 'larder-engine-processes-'));
  engine = await Engine.open({ projectDir });
});

afterAll(async () => {
  await engine.close();
  await rm(projectDir, { recursive: true, force: true });
});

describe('two engines in two processes', () => {
  it('see each other’s registered tables while both hold the catalog open', async () => {
    const name = engine.parseName('ml.proc.parent_table');
    const location = engine.defaultLocation(name);
    const table = await DeltaTable.create(location, { schema: [{ name: 'id', type: 'long' }] });
    await table.append('SELECT range AS id FROM range(5)');
    await engine.metastore.createTable({ name, location, managed: true });
    // The child has not run yet: its table is unknown here.
    const before = await engine.query('SELECT count(*) FROM ml.proc.child_table').catch((e: unknown) => e);
    expect((before as { code?: string }).code).toBe('TABLE_NOT_FOUND');

    const child = await runWorker();
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    expect(child.stdout.split('\n')).toEqual(['count=5', 'registered', '']);

    expect((await engine.query('SELECT count(*) FROM ml.proc.child_table')).rows).toEqual([['3']]);
    expect(
      (await engine.metastore.listTables({ catalog: 'ml', schema: 'proc' })).map((t) => t.fullName),
    ).toEqual(['ml.proc.child_table', 'ml.proc.parent_table']);
  });
});
