/**
 * Feature computation benchmarks (issue 4), on the churn example:
 *
 *   npm run bench:pipelines        (LARDER_BENCH_CUSTOMERS=10000,1000000 by default)
 *
 * For each size, in one process and one run:
 * - the full computation of `ml.churn_features.customer_features` by
 *   `runPipeline` (read the Delta sources, compute, overwrite the feature
 *   table, commit, write the metrics row), against DuckDB running the same
 *   SQL straight over Parquet copies of the sources and writing the result
 *   to Parquet (ABBA-paired medians);
 * - the incremental update after a CDC batch touching 1,000 customers
 *   (`applyChanges`, not timed), end to end including the merge commit and
 *   the metrics row, against the same DuckDB full recompute.
 * It ends with the seed's "Target Metrics" table filled with our figures.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyChanges } from '../examples/churn/generate.js';
import type { PipelineContext } from '../src/config/define-config.js';
import { initProject } from '../src/config/init-project.js';
import { loadConfig } from '../src/config/load-config.js';
import { openProject } from '../src/config/open-project.js';
import { DeltaTable } from '../src/delta/delta-table.js';
import { planScan } from '../src/delta/scan/scan.js';
import { connect, run, sqlIdent, sqlString } from '../src/duckdb/duckdb.js';
import { runPipeline } from '../src/pipelines/run-pipeline.js';
import { middle, paired, time } from './bench-utils.js';

const SIZES = (process.env.LARDER_BENCH_CUSTOMERS ?? '10000,1000000').split(',').map(Number);
const REPEAT = Number(process.env.LARDER_BENCH_REPEAT ?? 3);
const CHANGES = 1000;
const PIPELINE = 'customer_features';

interface Figure {
  readonly name: string;
  readonly larderMs: number;
  readonly referenceMs: number;
  readonly bar: string;
}
const figures: Figure[] = [];

function report(figure: Figure): void {
  figures.push(figure);
  const ratio = figure.larderMs / figure.referenceMs;
  console.log(
    `${figure.name}: Larder ${figure.larderMs.toFixed(0)} ms, DuckDB over Parquet ${figure.referenceMs.toFixed(0)} ms, ${ratio.toFixed(2)}× (bar ${figure.bar})`,
  );
}

async function benchSize(customers: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `larder-bench-pipelines-${customers}-`));
  try {
    const setup = await time(() => initProject({ dir, example: 'churn', customers }));
    const generated = setup.value.data?.tables ?? {};
    console.log(
      `\n${customers.toLocaleString('en')} customers, ${Number(generated.raw_transactions).toLocaleString('en')} transactions generated in ${(setup.ms / 1000).toFixed(1)} s`,
    );
    const loaded = await loadConfig({ projectDir: dir });
    const pipeline = loaded.config.pipelines?.[PIPELINE];
    if (!pipeline || typeof pipeline.sql !== 'function') throw new Error(`no ${PIPELINE} pipeline`);
    const context: PipelineContext = { pipeline: PIPELINE, mode: 'full', params: pipeline.params ?? {} };
    const sql = pipeline.sql(context);

    // The reference: the same SQL over plain Parquet copies of the sources, written to Parquet.
    const connection = await connect();
    const parquetDir = join(dir, 'parquet');
    await mkdir(parquetDir, { recursive: true });
    const referenceSources = async (): Promise<void> => {
      for (const source of pipeline.sources) {
        const table = await DeltaTable.open(join(dir, 'data', source));
        const file = join(parquetDir, `${source}.parquet`);
        await run(
          connection,
          `COPY (${(await planScan(table.snapshot)).sql}) TO ${sqlString(file)} (FORMAT parquet)`,
          'copying a source to Parquet',
        );
        await run(
          connection,
          `CREATE OR REPLACE TEMP VIEW ${sqlIdent(source)} AS SELECT * FROM read_parquet(${sqlString(file)})`,
          'a reference view',
        );
      }
    };
    await referenceSources();
    const reference = (run_: number) =>
      run(
        connection,
        `COPY (${sql}) TO ${sqlString(join(parquetDir, `out-${run_}.parquet`))} (FORMAT parquet)`,
        'the reference computation',
      );

    const project = await openProject(loaded);
    try {
      const featureStore = project.featureStore;
      const full = () => runPipeline({ featureStore, config: loaded.config, pipeline: PIPELINE, full: true });
      await full(); // creates the table; not timed
      const [referenceMs, larderMs] = await paired(reference, full, REPEAT);
      report({
        name: `full computation, ${customers.toLocaleString('en')} customers`,
        larderMs,
        referenceMs,
        bar: customers >= 1_000_000 ? '< 15 s' : '< 5 min (seed)',
      });

      // Incremental: a fresh CDC batch before each timed run.
      const incremental: number[] = [];
      let entities = 0;
      for (let i = 0; i < REPEAT; i++) {
        await applyChanges({ out: join(dir, 'data'), changes: CHANGES, seed: 1000 + i });
        const result = await time(() =>
          runPipeline({ featureStore, config: loaded.config, pipeline: PIPELINE }),
        );
        if (result.value.mode !== 'incremental') throw new Error(`run ${i} was ${result.value.mode}`);
        entities = result.value.numEntitiesProcessed;
        incremental.push(result.ms);
      }
      // The reference recomputes everything over the changed sources.
      await referenceSources();
      const referenceAfter: number[] = [];
      for (let i = 0; i < REPEAT; i++) referenceAfter.push((await time(() => reference(100 + i))).ms);
      report({
        name: `incremental update, ${entities.toLocaleString('en')} changed of ${customers.toLocaleString('en')} customers`,
        larderMs: middle(incremental),
        referenceMs: middle(referenceAfter),
        bar: customers >= 1_000_000 ? '< 3 s' : '< 1 min (seed)',
      });
    } finally {
      await project.close();
      connection.closeSync();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const size of SIZES) await benchSize(size);

console.log('\nThe seed’s target metrics, measured (reference: DuckDB, the same SQL over Parquet, same run)');
console.log('| Operation | Target | Notes | Larder | DuckDB over Parquet | ratio |');
console.log('|---|---|---|---|---|---|');
for (const f of figures) {
  console.log(
    `| ${f.name} | ${f.bar} | customer_features, 15 features | ${(f.larderMs / 1000).toFixed(2)} s | ${(f.referenceMs / 1000).toFixed(2)} s | ${(f.larderMs / f.referenceMs).toFixed(2)}× |`,
  );
}
