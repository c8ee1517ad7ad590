/**
 * A second process on the same project, for the catalog-sharing tests:
 * `engine-worker.ts <projectDir>` opens an Engine, prints what it reads from
 * the table the parent registered (`count=<n>`), registers and fills a table
 * of its own (`ml.proc.child_table`, 3 rows), prints `registered`, and exits.
 */
import { DeltaTable } from '../../src/delta/delta-table.js';
import { Engine } from '../../src/engine/engine.js';

const [projectDir] = process.argv.slice(2);
if (!projectDir) throw new Error('usage: engine-worker <projectDir>');

const engine = await Engine.open({ projectDir });
try {
  const seen = await engine.query('SELECT count(*) FROM ml.proc.parent_table');
  process.stdout.write(`count=${String(seen.rows[0]?.[0])}\n`);
  const name = engine.parseName('ml.proc.child_table');
  const location = engine.defaultLocation(name);
  const table = await DeltaTable.create(location, { schema: [{ name: 'id', type: 'long' }] });
  await table.append('SELECT range AS id FROM range(3)');
  await engine.metastore.createTable({ name, location, managed: true });
  process.stdout.write('registered\n');
} finally {
  await engine.close();
}
