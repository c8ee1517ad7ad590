/**
 * The package as people install it: `npm pack` (whose prepack compiles
 * dist/), the tarball installed into a fresh `npm init -y` project
 * (CommonJS) and a fresh `"type": "module"` one, then a documented script
 * through `require` and through `import`, and the `larder` CLI from the
 * installed bin (init, apply, run, sql).
 *
 * The pack runs in a copy of the package's sources, so the checkout never
 * gets a dist/ that bin/larder.js would prefer over the source later.
 * Installs are offline-first (`--prefer-offline`: npm's cache holds every
 * dependency after `npm ci`) and skip install scripts: the only one is
 * better-sqlite3's, which would download or compile the same native addon
 * this checkout already built, so the test copies that binary in (same
 * version, checked). larderjs itself always comes from the tarball.
 */
import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** What `npm pack` needs: the package's `files` and the compiler's inputs. */
const PACK_INPUTS = [
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'README.md',
  'bin',
  'src',
  'docs',
  'examples',
];
const CUSTOMERS = 300;

interface Output {
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of child processes: no npm_* variables of a parent `npm test`, no Larder overrides. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && !key.startsWith('LARDER_')) env[key] = value;
  }
  return env;
}

function run(command: string, args: readonly string[], cwd: string): Promise<Output> {
  return new Promise((done, fail) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          fail(
            new Error(
              `${command} ${args.join(' ')} failed in ${cwd}: ${error.message}\n${stdout}\n${stderr}`,
            ),
          );
        else done({ stdout, stderr });
      },
    );
  });
}

async function packTarball(work: string): Promise<string> {
  const source = join(work, 'source');
  await mkdir(source);
  for (const entry of PACK_INPUTS) await cp(join(REPO, entry), join(source, entry), { recursive: true });
  // prepack runs tsc, which needs the checkout's dependencies (types, the compiler).
  await symlink(join(REPO, 'node_modules'), join(source, 'node_modules'), 'dir');
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], source);
  const [packed] = JSON.parse(stdout) as [{ filename: string }];
  return join(work, packed.filename);
}

/** A fresh `npm init -y` project with the tarball installed; `module` makes it an ES module project. */
async function freshProject(work: string, name: string, tarball: string, module: boolean): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  await run('npm', ['init', '-y'], dir);
  if (module) await run('npm', ['pkg', 'set', 'type=module'], dir);
  await run(
    'npm',
    ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball],
    dir,
  );
  await installBuiltSqliteAddon(dir);
  return dir;
}

/** Put the checkout's compiled better-sqlite3 addon where the skipped install script would have. */
async function installBuiltSqliteAddon(project: string): Promise<void> {
  const fromRepo = createRequire(join(REPO, 'package.json')).resolve('better-sqlite3/package.json');
  const installed = join(project, 'node_modules', 'better-sqlite3', 'package.json');
  const [ours, theirs] = await Promise.all([readVersion(fromRepo), readVersion(installed)]);
  if (ours !== theirs) throw new Error(`better-sqlite3 ${theirs} installed, but the checkout built ${ours}`);
  const release = join(dirname(installed), 'build', 'Release');
  await mkdir(release, { recursive: true });
  await copyFile(
    join(dirname(fromRepo), 'build', 'Release', 'better_sqlite3.node'),
    join(release, 'better_sqlite3.node'),
  );
}

async function readVersion(packageJson: string): Promise<string> {
  return (JSON.parse(await readFile(packageJson, 'utf8')) as { version: string }).version;
}

/**
 * docs/feature-store.md, "Opening a store" (00-open.ts) and "Creating a
 * table" (01-create.ts), written the way the docs write scripts: no
 * top-level await (a CommonJS file cannot have one), an async main().
 * `load` is the first line: a `require` or an `import` of larderjs.
 */
function openScript(load: string): string {
  return `${load}

async function main() {
  const fs = await FeatureStore.open({ projectDir: '.' });
  try {
    console.log(fs.engine.projectDir, (await fs.listTables()).length, 'feature tables');
  } finally {
    await fs.close();
  }
}

main();
`;
}

function createScript(load: string): string {
  return `${load}

async function main() {
  const fs = await FeatureStore.open(); // the project in the current folder
  try {
    const table = await fs.createTable({
      name: 'ml.churn_features.customer_features',
      primaryKeys: ['customer_id'],
      clusterBy: ['customer_id'],
      schema: {
        customer_id: 'long',
        num_transactions_30d: { type: 'integer', description: 'Transactions in the last 30 days' },
        total_amount_30d: 'double',
        plan: 'string',
      },
      df: [
        { customer_id: 1, num_transactions_30d: 4, total_amount_30d: 120.5, plan: 'pro' },
        { customer_id: 2, num_transactions_30d: 0, total_amount_30d: 0, plan: 'basic' },
      ],
      description: 'Churn features per customer',
      owner: 'ml-platform',
      tags: { domain: 'churn' },
    });
    console.log(table.fullName, 'version', table.version, 'keys', table.primaryKeys);
    console.log('clustered by', table.clusterBy);
    console.log(table.schema.map((c) => \`\${c.name} \${c.type}\${c.nullable ? '' : ' NOT NULL'}\`).join(', '));
    console.log(table.features);
  } finally {
    await fs.close();
  }
}

main();
`;
}

/** What docs/feature-store.md prints for 01-create.ts. */
const CREATE_OUTPUT = `ml.churn_features.customer_features version 1 keys [ 'customer_id' ]
clustered by [ 'customer_id' ]
customer_id long NOT NULL, num_transactions_30d integer, total_amount_30d double, plan string
[
  {
    name: 'num_transactions_30d',
    type: 'integer',
    description: 'Transactions in the last 30 days'
  },
  { name: 'total_amount_30d', type: 'double' },
  { name: 'plan', type: 'string' }
]
`;

let work: string;
let cjs: string;
let esm: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'larder-package-'));
  const tarball = await packTarball(work);
  [cjs, esm] = await Promise.all([
    freshProject(work, 'cjs-project', tarball, false),
    freshProject(work, 'esm-project', tarball, true),
  ]);
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package in a fresh project', () => {
  it('leaves only better-sqlite3 with an install script for the project to approve', async () => {
    // The README's paragraph on npm 11's allowScripts warning names this one package.
    const { stdout } = await run('npm', ['install-scripts', 'ls', '--json'], cjs);
    const pending = (JSON.parse(stdout) as { allowScripts: { name: string }[] }).allowScripts;
    expect(pending.map((entry) => entry.name)).toEqual(['better-sqlite3']);
  });

  it('has nothing left to approve after the command the README gives', async () => {
    await run('npm', ['install-scripts', 'approve', 'better-sqlite3'], esm);
    const { stdout } = await run('npm', ['install-scripts', 'ls', '--json'], esm);
    expect((JSON.parse(stdout) as { allowScripts: unknown[] }).allowScripts).toEqual([]);
  });

  it('runs the documented FeatureStore scripts with require() in a CommonJS project', async () => {
    const load = "const { FeatureStore } = require('larderjs');";
    await writeFile(join(cjs, '00-open.js'), openScript(load));
    await writeFile(join(cjs, '01-create.js'), createScript(load));
    const open = await run('node', ['00-open.js'], cjs);
    expect(open).toEqual({ stdout: `${cjs} 0 feature tables\n`, stderr: '' });
    const create = await run('node', ['01-create.js'], cjs);
    expect(create).toEqual({ stdout: CREATE_OUTPUT, stderr: '' });
  });

  it('runs the documented FeatureStore scripts with import in an ES module project', async () => {
    const load = "import { FeatureStore } from 'larderjs';";
    await writeFile(join(esm, '00-open.js'), openScript(load));
    await writeFile(join(esm, '01-create.js'), createScript(load));
    const open = await run('node', ['00-open.js'], esm);
    expect(open).toEqual({ stdout: `${esm} 0 feature tables\n`, stderr: '' });
    const create = await run('node', ['01-create.js'], esm);
    expect(create).toEqual({ stdout: CREATE_OUTPUT, stderr: '' });
  });

  it('gives defineConfig from larderjs/config to require() and to import', async () => {
    const probe = (load: string) =>
      `${load}\nconsole.log(typeof defineConfig, JSON.stringify(defineConfig({ entities: {} })));\n`;
    await writeFile(
      join(cjs, 'config-probe.js'),
      probe("const { defineConfig } = require('larderjs/config');"),
    );
    await writeFile(join(esm, 'config-probe.js'), probe("import { defineConfig } from 'larderjs/config';"));
    for (const dir of [cjs, esm]) {
      expect((await run('node', ['config-probe.js'], dir)).stdout, dir).toBe('function {"entities":{}}\n');
    }
  });

  it('runs the larder CLI from the installed bin: init, apply, run, sql', async () => {
    // The bin npm linked, as `npx larder` finds it (without npx's own start-up per command).
    const bin = join(cjs, 'node_modules', '.bin', 'larder');
    const larder = (...args: string[]) => run(bin, args, cjs);
    const init = await larder('init', 'demo', '--example', 'churn', '--customers', String(CUSTOMERS));
    expect(init.stdout).toContain(`data/raw_customers (${CUSTOMERS} rows)`);

    const apply = await larder('apply', '-C', 'demo');
    expect(apply.stdout).toContain('Applied: 2 created, 0 updated, 0 removed.');

    const pipeline = await larder('run', 'customer_features', '-C', 'demo');
    expect(pipeline.stdout).toContain('customer_features: full run');
    expect(pipeline.stdout).toContain('table ml.churn_features.customer_features now at version 1');

    const sql = await larder(
      'sql',
      '-C',
      'demo',
      '--format',
      'json',
      'SELECT count(*) AS n, count(DISTINCT customer_id) AS k FROM ml.churn_features.customer_features',
    );
    // One feature row per generated customer.
    expect(JSON.parse(sql.stdout)).toEqual([{ n: CUSTOMERS, k: CUSTOMERS }]);
  });
});
