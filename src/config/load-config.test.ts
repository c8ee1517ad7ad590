import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLarderError, type LarderError } from '../errors.js';
import { CONFIG_FILE_NAMES, loadConfig } from './load-config.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TS_CONFIG = `
import { defineConfig, type PipelineContext } from 'larderjs/config';

const days: number = 30;
export default defineConfig({
  sources: { raw_transactions: { type: 'delta', path: 'data/raw_transactions', changeColumn: '_change_timestamp' } },
  entities: { customer: { keys: ['customer_id'] } },
  featureTables: {
    'ml.churn_features.customer_features': { entity: 'customer', description: 'per customer' },
    'ml.churn_features.daily': { primaryKeys: ['customer_id'], timeseriesColumn: 'day' },
  },
  pipelines: {
    customer_features: {
      output: 'ml.churn_features.customer_features',
      sources: ['raw_transactions'],
      sql: (ctx: PipelineContext) => \`SELECT customer_id, count(*) AS n FROM raw_transactions WHERE ts > now() - INTERVAL \${days} DAY GROUP BY 1 -- \${ctx.mode}\`,
      incremental: { key: 'customer_id' },
    },
  },
});
`;

async function caught(promise: Promise<unknown>): Promise<LarderError> {
  try {
    await promise;
  } catch (error) {
    if (isLarderError(error)) return error;
    throw error;
  }
  throw new Error('expected a LarderError');
}

describe('loadConfig', () => {
  it('imports a TypeScript config that uses larderjs/config and returns it validated with absolute paths', async () => {
    await writeFile(join(dir, 'larder.config.ts'), TS_CONFIG);
    const { config, file, projectDir } = await loadConfig({ projectDir: dir });
    expect(file).toBe(join(dir, 'larder.config.ts'));
    expect(projectDir).toBe(dir);
    expect(Object.keys(config.pipelines ?? {})).toEqual(['customer_features']);
    const sql = config.pipelines?.customer_features?.sql;
    expect(typeof sql).toBe('function');
    const text = (sql as (ctx: object) => string)({
      pipeline: 'customer_features',
      mode: 'full',
      params: {},
    });
    expect(text).toContain('INTERVAL 30 DAY');
    expect(text).toContain('-- full');
  });

  it('resolves primary keys from the entity and appends the timeseries column', async () => {
    await writeFile(join(dir, 'larder.config.ts'), TS_CONFIG);
    const { config } = await loadConfig({ projectDir: dir });
    expect(config.featureTables?.['ml.churn_features.customer_features']?.primaryKeys).toEqual([
      'customer_id',
    ]);
    expect(config.featureTables?.['ml.churn_features.daily']?.primaryKeys).toEqual(['customer_id', 'day']);
    expect(Object.isFrozen(config.featureTables?.['ml.churn_features.daily']?.primaryKeys)).toBe(true);
  });

  it('takes a named `config` export from an .mjs file when there is no default export', async () => {
    await writeFile(
      join(dir, 'larder.config.mjs'),
      "export const config = { sources: { a: { type: 'csv', path: 'a.csv' } } };\n",
    );
    const { config, file } = await loadConfig({ projectDir: dir });
    expect(file).toBe(join(dir, 'larder.config.mjs'));
    expect(config.sources?.a).toEqual({ type: 'csv', path: 'a.csv' });
  });

  it('prefers larder.config.ts over larder.config.js when both exist', async () => {
    await writeFile(
      join(dir, 'larder.config.js'),
      "export default { sources: { js: { type: 'csv', path: 'a.csv' } } };",
    );
    await writeFile(
      join(dir, 'larder.config.ts'),
      "export default { sources: { ts: { type: 'csv', path: 'a.csv' } } };",
    );
    const { config } = await loadConfig({ projectDir: dir });
    expect(Object.keys(config.sources ?? {})).toEqual(['ts']);
  });

  it('loads an explicit file relative to the project folder', async () => {
    await writeFile(join(dir, 'other.config.ts'), "export default { entities: { e: { keys: ['id'] } } };");
    const loaded = await loadConfig({ projectDir: dir, file: 'other.config.ts' });
    expect(loaded.file).toBe(join(dir, 'other.config.ts'));
    expect(loaded.config.entities?.e?.keys).toEqual(['id']);
    const byFile = await loadConfig({ file: join(dir, 'other.config.ts') });
    expect(byFile.projectDir).toBe(dir);
  });

  it('sees an edit when the same file is loaded again in the same process', async () => {
    const path = join(dir, 'larder.config.ts');
    await writeFile(path, "export default { entities: { a: { keys: ['id'] } } };");
    expect(Object.keys((await loadConfig({ projectDir: dir })).config.entities ?? {})).toEqual(['a']);
    await writeFile(path, "export default { entities: { b: { keys: ['id'] } } };");
    expect(Object.keys((await loadConfig({ projectDir: dir })).config.entities ?? {})).toEqual(['b']);
  });

  it('fails with CONFIG_NOT_FOUND naming the folder and every file name tried', async () => {
    const error = await caught(loadConfig({ projectDir: dir }));
    expect(error.code).toBe('CONFIG_NOT_FOUND');
    expect(error.message).toContain(dir);
    for (const name of CONFIG_FILE_NAMES) expect(error.message).toContain(name);
  });

  it('fails with CONFIG_NOT_FOUND for a missing project folder or explicit file', async () => {
    const missing = join(dir, 'nope');
    expect((await caught(loadConfig({ projectDir: missing }))).message).toContain(missing);
    const error = await caught(loadConfig({ projectDir: dir, file: 'absent.config.ts' }));
    expect(error.code).toBe('CONFIG_NOT_FOUND');
    expect(error.message).toContain(join(dir, 'absent.config.ts'));
  });

  it('fails with CONFIG_INVALID naming the file for a syntax error', async () => {
    await writeFile(join(dir, 'larder.config.ts'), 'export default {\n  sources: {\n');
    const error = await caught(loadConfig({ projectDir: dir }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(join(dir, 'larder.config.ts'));
    expect(error.context.file).toBe(join(dir, 'larder.config.ts'));
    expect(error.cause).toBeInstanceOf(Error);
  });

  it("fails with CONFIG_INVALID carrying the cause's message when the file throws", async () => {
    await writeFile(
      join(dir, 'larder.config.ts'),
      "throw new Error('no database password set');\nexport default {};",
    );
    const error = await caught(loadConfig({ projectDir: dir }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('larder.config.ts');
    expect(error.message).toContain('no database password set');
  });

  it('fails with CONFIG_INVALID when the file imports a module that does not exist', async () => {
    await writeFile(
      join(dir, 'larder.config.ts'),
      "import { x } from './missing-helper';\nexport default { x };",
    );
    const error = await caught(loadConfig({ projectDir: dir }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('missing-helper');
  });

  it('fails with CONFIG_INVALID when the file exports no config', async () => {
    await writeFile(join(dir, 'larder.config.ts'), 'export const unrelated = 1;');
    const error = await caught(loadConfig({ projectDir: dir }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('exports no config');
  });

  it('validates what it loads and names file, object and field of each problem', async () => {
    await writeFile(
      join(dir, 'larder.config.ts'),
      'export default { featureTable: {}, entities: { customer: { keys: [] } } };',
    );
    const error = await caught(loadConfig({ projectDir: dir }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(
      'larder.config.ts: config › featureTable: unknown field (did you mean "featureTables"?)',
    );
    expect(error.message).toContain(
      'larder.config.ts: entities.customer › keys: must list at least one name',
    );
    expect(error.context).toMatchObject({
      file: join(dir, 'larder.config.ts'),
      object: 'config',
      field: 'featureTable',
    });
  });
});
