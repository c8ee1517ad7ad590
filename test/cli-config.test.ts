/**
 * `larder init`, `larder plan` and `larder apply` as users run them: real
 * `node bin/larder.js` processes in fresh folders, from scaffolding the
 * churn example to a plan that finds nothing to do, with the exit codes and
 * messages of a bad config, and nothing written when one is refused.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteMetastore } from '../src/catalog/sqlite/sqlite-metastore.js';
import { type LarderRun, runLarder } from './support/run-larder.js';

const repoRoot = resolve(import.meta.dirname, '..');

let root: string;

/** Run `larder …args` in `cwd` (non-interactive: stdin is a pipe). */
function larder(cwd: string, args: readonly string[]): Promise<LarderRun> {
  return runLarder(args, { cwd });
}

/** A new project `name` under the test root: a CSV source and pipeline `stats` (SQL `sql`) writing ml.f.stats. */
async function statsProject(name: string, sql: string): Promise<string> {
  const project = join(root, name);
  expect((await larder(root, ['init', name])).code).toBe(0);
  await writeFile(join(project, 'tx.csv'), 'customer_id,amount\n1,2.5\n2,4\n');
  await writeFile(
    join(project, 'larder.config.ts'),
    `export default {
  sources: { tx: { type: 'csv', path: 'tx.csv' } },
  entities: { customer: { keys: ['customer_id'] } },
  featureTables: { 'ml.f.stats': { entity: 'customer' } },
  pipelines: { stats: { output: 'ml.f.stats', sources: ['tx'], sql: '${sql}' } },
};
`,
  );
  return project;
}

async function catalogTables(project: string): Promise<string[]> {
  const metastore = await SqliteMetastore.open(join(project, '.larder', 'catalog.db'));
  try {
    return (await metastore.listTables()).map((t) => t.fullName);
  } finally {
    await metastore.close();
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'larder-cli-config-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('larder init, plan, apply', () => {
  it('scaffolds the churn example, plans two creates, applies them, then plans no change', async () => {
    const init = await larder(root, ['init', 'churn', '--example', 'churn', '--customers', '300']);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const project = join(root, 'churn');
    expect(init.stdout).toContain(`created a Larder project in ${project}`);
    expect(init.stdout).toMatch(/data\/raw_customers \(300 rows\)/);
    expect(await readFile(join(project, 'larder.config.ts'), 'utf8')).toBe(
      await readFile(join(repoRoot, 'examples', 'churn', 'larder.config.ts'), 'utf8'),
    );
    expect((await readFile(join(project, '.gitignore'), 'utf8')).split('\n')).toContain('.larder/');
    expect(existsSync(join(project, 'data', 'raw_transactions', '_delta_log'))).toBe(true);

    const plan = await larder(project, ['plan']);
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('+ create ml.churn_features.customer_features');
    expect(plan.stdout).toContain('+ create ml.churn_features.customer_daily_features');
    expect(plan.stdout).toContain('    primary keys: customer_id, feature_date');
    expect(plan.stdout).toContain('Plan: 2 to create, 0 to update, 0 unchanged, 0 to remove.');
    expect(await catalogTables(project)).toEqual([]);

    const apply = await larder(project, ['apply']);
    expect(apply.stderr).toBe('');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Applied: 2 created, 0 updated, 0 removed.');
    expect(await catalogTables(project)).toEqual([
      'ml.churn_features.customer_daily_features',
      'ml.churn_features.customer_features',
    ]);

    const again = await larder(project, ['plan', '--json']);
    expect(again.code).toBe(0);
    const json = JSON.parse(again.stdout) as { summary: Record<string, number>; actions: { kind: string }[] };
    expect(json.summary).toEqual({ create: 0, update: 0, unchanged: 2, remove: 0, errors: 0 });
    const text = await larder(project, ['plan']);
    expect(text.stdout).toContain('= unchanged ml.churn_features.customer_features');
    expect(text.stdout).toContain('No changes: the catalog matches the config (2 tables).');

    const refused = await larder(root, ['init', 'churn']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `error [INVALID_ARGUMENT]: ${join(project, 'larder.config.ts')} already exists`,
    );
    expect(refused.stderr).toContain('--force');
  });

  it('refuses a plan whose config has errors, naming file, object and field, and writes nothing', async () => {
    const project = join(root, 'bad');
    expect((await larder(root, ['init', 'bad'])).code).toBe(0);
    await writeFile(
      join(project, 'larder.config.ts'),
      `import { defineConfig } from 'larderjs/config';
export default defineConfig({
  sources: { raw_transactions: { type: 'csv', path: 'tx.csv' } },
  entities: { customer: { keys: ['customer_id'] } },
  featureTables: { 'ml.f.stats': { entity: 'customer' } },
  pipelines: {
    stats: { output: 'ml.f.stats', sources: ['raw_txn'], sql: 'SELECT customer_id FROM raw_txn GROUP BY 1' },
  },
});
`,
    );
    for (const command of ['plan', 'apply']) {
      const run = await larder(project, [command]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        'error [CONFIG_INVALID]: larder.config.ts: pipelines.stats › sources[0]: unknown source "raw_txn" (known: raw_transactions)\n',
      );
    }
    expect(existsSync(join(project, '.larder'))).toBe(false);
  });

  it('applies nothing when the plan finds an error, even beside a valid new table', async () => {
    const project = join(root, 'partial');
    expect((await larder(root, ['init', 'partial'])).code).toBe(0);
    await writeFile(join(project, 'tx.csv'), 'customer_id,amount\n1,2.5\n2,4\n');
    const config = (withError: boolean) => `export default {
  sources: { tx: { type: 'csv', path: 'tx.csv' } },
  entities: { customer: { keys: ['customer_id'] } },
  featureTables: {
    'ml.f.stats': { entity: 'customer', features: { total: { type: '${withError ? 'integer' : 'double'}' } } },
    'ml.f.counts': { entity: 'customer' },
  },
  pipelines: {
    stats: { output: 'ml.f.stats', sources: ['tx'], sql: 'SELECT customer_id::BIGINT AS customer_id, sum(amount)::DOUBLE AS total FROM tx GROUP BY 1' },
    counts: { output: 'ml.f.counts', sources: ['tx'], sql: 'SELECT customer_id::BIGINT AS customer_id, count(*) AS n FROM tx GROUP BY 1' },
  },
};
`;
    await writeFile(join(project, 'larder.config.ts'), config(true));
    const run = await larder(project, ['apply', '--yes']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('+ create ml.f.counts');
    expect(run.stdout).toContain('Plan: 1 error; nothing can be applied until it is fixed.');
    expect(run.stderr).toContain(
      'larder.config.ts: featureTables["ml.f.stats"] › features.total.type: type clash in ml.f.stats: column "total" is declared integer, the output of pipeline "stats" gives double',
    );
    expect(await catalogTables(project)).toEqual([]);
    expect(readdirSync(join(project, '.larder', 'warehouse'))).toEqual([]);

    await writeFile(join(project, 'larder.config.ts'), config(false));
    const fixed = await larder(project, ['apply', '--yes']);
    expect(fixed.code).toBe(0);
    expect(await catalogTables(project)).toEqual(['ml.f.counts', 'ml.f.stats']);
  });

  it('refuses a plan whose pipeline output lacks the primary key, naming file, object and field', async () => {
    const project = await statsProject('nokey', 'SELECT sum(amount)::DOUBLE AS total FROM tx');
    const run = await larder(project, ['plan']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Plan: 1 error; nothing can be applied until it is fixed.');
    expect(run.stderr).toBe(
      'error [CONFIG_INVALID]: larder.config.ts: featureTables["ml.f.stats"] › entity: primary key "customer_id" is not a column of the output of pipeline "stats" (columns: total)\n',
    );
    // A plan is a dry run: not even an empty catalog or warehouse appears.
    expect(existsSync(join(project, '.larder'))).toBe(false);
  });

  it('plans a fresh project without writing anything to it, then apply creates the catalog', async () => {
    const project = await statsProject(
      'fresh',
      'SELECT customer_id::BIGINT AS customer_id, sum(amount)::DOUBLE AS total FROM tx GROUP BY 1',
    );
    const plan = await larder(project, ['plan']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('+ create ml.f.stats');
    expect(existsSync(join(project, '.larder'))).toBe(false);
    expect((await larder(project, ['apply', '--yes'])).code).toBe(0);
    expect(await catalogTables(project)).toEqual(['ml.f.stats']);
    const again = await larder(project, ['plan']);
    expect(again.stdout).toContain('No changes');
  });

  it('scaffolds a minimal config that loads and plans nothing', async () => {
    const init = await larder(root, ['init', 'empty']);
    expect(init.code).toBe(0);
    const project = join(root, 'empty');
    expect(await readFile(join(project, 'larder.config.ts'), 'utf8')).toContain(
      "import { defineConfig } from 'larderjs/config';",
    );
    expect(await readFile(join(project, 'README.md'), 'utf8')).toContain('larder plan');
    const plan = await larder(project, ['plan']);
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('No changes: the catalog matches the config (0 tables).');
  });
});
