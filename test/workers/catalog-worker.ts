/**
 * A second process on one catalog, for `catalog-processes.test.ts`:
 * `catalog-worker.ts sqlite <file>` or `catalog-worker.ts postgres <url> <schema>`
 * opens the metastore, prints the tags it reads on `ml.proc.parent_table`
 * (`tags=<json>`), tags that table `from_child=yes`, registers the feature
 * table `ml.proc.child_features` (tagged `team=growth`), prints `done` and exits.
 */
import type { Metastore } from '../../src/catalog/metastore.js';
import { PostgresMetastore } from '../../src/catalog/postgres/postgres-metastore.js';
import { SqliteMetastore } from '../../src/catalog/sqlite/sqlite-metastore.js';

const [backend, where, schema] = process.argv.slice(2);
if ((backend !== 'sqlite' && backend !== 'postgres') || !where) {
  throw new Error('usage: catalog-worker sqlite <file> | postgres <url> <schema>');
}

const metastore: Metastore =
  backend === 'sqlite'
    ? await SqliteMetastore.open(where)
    : await PostgresMetastore.open(where, schema === undefined ? {} : { schema });
try {
  const parent = { catalog: 'ml', schema: 'proc', table: 'parent_table' };
  const seen = await metastore.getTable(parent);
  process.stdout.write(`tags=${JSON.stringify(seen?.tags ?? null)}\n`);
  await metastore.setTableTag(parent, 'from_child', 'yes');
  await metastore.createTable({
    name: { catalog: 'ml', schema: 'proc', table: 'child_features' },
    location: '/data/child_features',
    managed: false,
    tags: { team: 'growth' },
    feature: {
      primaryKeys: ['customer_id'],
      partitionColumns: [],
      clusterBy: [],
      features: [{ name: 'n_tx', type: 'long', description: 'transactions' }],
      lineage: { pipeline: 'child', sources: ['raw_transactions'] },
    },
  });
  process.stdout.write('done\n');
} finally {
  await metastore.close();
}
