import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError, type LarderError } from '../errors.js';
import { initProject, MINIMAL_CONFIG } from './init-project.js';
import { loadConfig } from './load-config.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'larder-init-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function caught(promise: Promise<unknown>): Promise<LarderError> {
  try {
    await promise;
  } catch (error) {
    if (isLarderError(error)) return error;
    throw error;
  }
  throw new Error('expected a LarderError');
}

describe('initProject', () => {
  it('creates the folder with a minimal config that loads, a .gitignore and a README', async () => {
    const dir = join(root, 'a', 'b');
    const result = await initProject({ dir });
    expect(result.files).toEqual([
      join(dir, 'larder.config.ts'),
      join(dir, '.gitignore'),
      join(dir, 'README.md'),
    ]);
    expect(await readFile(join(dir, 'larder.config.ts'), 'utf8')).toBe(MINIMAL_CONFIG);
    expect(await readFile(join(dir, '.gitignore'), 'utf8')).toBe('.larder/\n');
    const { config } = await loadConfig({ projectDir: dir });
    expect(config).toEqual({ sources: {}, entities: {}, featureTables: {}, pipelines: {} });
  });

  it('adds .larder/ to an existing .gitignore and keeps an existing README', async () => {
    await writeFile(join(root, '.gitignore'), 'node_modules');
    await writeFile(join(root, 'README.md'), '# mine\n');
    const result = await initProject({ dir: root });
    expect(result.files).toEqual([join(root, 'larder.config.ts'), join(root, '.gitignore')]);
    expect(await readFile(join(root, '.gitignore'), 'utf8')).toBe('node_modules\n.larder/\n');
    expect(await readFile(join(root, 'README.md'), 'utf8')).toBe('# mine\n');
    await initProject({ dir: root, force: true });
    expect(await readFile(join(root, '.gitignore'), 'utf8')).toBe('node_modules\n.larder/\n');
  });

  it('refuses to overwrite any existing config without force, naming it and writing nothing', async () => {
    await writeFile(join(root, 'larder.config.mjs'), 'export default {};');
    const error = await caught(initProject({ dir: root }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(
      `${join(root, 'larder.config.mjs')} already exists (pass --force to overwrite it)`,
    );
    expect(existsSync(join(root, 'larder.config.ts'))).toBe(false);
    expect(existsSync(join(root, '.gitignore'))).toBe(false);
    await initProject({ dir: root, force: true });
    expect(await readFile(join(root, 'larder.config.ts'), 'utf8')).toBe(MINIMAL_CONFIG);
  });

  it('rejects an unknown example and a customer count below one before writing', async () => {
    expect((await caught(initProject({ dir: root, example: 'fraud' }))).message).toContain(
      'unknown example "fraud"',
    );
    expect((await caught(initProject({ dir: root, example: 'churn', customers: 0 }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(existsSync(join(root, 'larder.config.ts'))).toBe(false);
  });
});
