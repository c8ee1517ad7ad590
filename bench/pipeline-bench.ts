/**
 * Feature computation benchmarks (issues 4 and 8), on the churn example:
 *
 *   npm run bench:pipelines        (LARDER_BENCH_CUSTOMERS=10000,1000000 by default)
 *   npm run bench:scale            (10 M customers, ~100 M transactions; LARDER_BENCH_SCALE_CUSTOMERS)
 *
 * For each size, in one run:
 * - the full computation of `ml.churn_features.customer_features` by
 *   `runPipeline` (read the Delta sources, compute, overwrite the feature
 *   table, commit, write the metrics row), against DuckDB alone running the
 *   same SQL over the same Parquet files (the sources' data files) and
 *   writing the result to Parquet, ABBA-paired;
 * - the incremental update after a CDC batch touching 1,000 customers
 *   (`applyChanges`, in this process, not timed), end to end including the
 *   merge commit and the metrics row; its reference is the DuckDB full
 *   recompute above.
 * Each side runs in its own child process (side-runner.ts): each figure
 * comes with that process's peak RSS (Node, DuckDB, setup and every run),
 * and Larder's runs with the time of each phase (read, compute, write,
 * metrics). It ends with the seed's "Target Metrics" table.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyChanges } from '../examples/churn/generate.js';
import { initProject } from '../src/config/init-project.js';
import { DeltaTable } from '../src/delta/delta-table.js';
import { formatBytes, middle, pairedSides, startSide, time } from './bench-utils.js';
import { pipelineSql } from './pipeline-sides.js';

const SCALE = process.argv.includes('--scale');
const SIZES = (
  SCALE
    ? (process.env.LARDER_BENCH_SCALE_CUSTOMERS ?? '10000000')
    : (process.env.LARDER_BENCH_CUSTOMERS ?? '10000,1000000')
)
  .split(',')
  .map(Number);
const REPEAT = Number(process.env.LARDER_BENCH_REPEAT ?? (SCALE ? 2 : 3));
const CHANGES = 1000;
const PIPELINE = 'customer_features';
const SIDES = fileURLToPath(new URL('./pipeline-sides.ts', import.meta.url));

interface Figure {
  readonly name: string;
  readonly larderMs: number;
  readonly larderRss: number;
  readonly referenceMs: number;
  readonly referenceRss: number;
  readonly bar: string;
}
const figures: Figure[] = [];

function report(figure: Figure): void {
  figures.push(figure);
  const ratio = figure.larderMs / figure.referenceMs;
  console.log(
    `${figure.name}: Larder ${figure.larderMs.toFixed(0)} ms (peak RSS ${formatBytes(figure.larderRss)}), ` +
      `DuckDB over Parquet ${figure.referenceMs.toFixed(0)} ms (peak RSS ${formatBytes(figure.referenceRss)}), ` +
      `${ratio.toFixed(2)}× (bar ${figure.bar})`,
  );
}

const bars = (customers: number) =>
  customers >= 10_000_000
    ? { full: '< 60 s, ≤ 1.2×, peak RSS < 8 GiB', incremental: '< 2 s' }
    : customers >= 1_000_000
      ? { full: '< 15 s', incremental: '< 3 s' }
      : { full: '< 5 min (seed)', incremental: '< 1 min (seed)' };

async function benchSize(customers: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `larder-bench-pipelines-${customers}-`));
  try {
    const setup = await time(() => initProject({ dir, example: 'churn', customers }));
    const generated = setup.value.data?.tables ?? {};
    console.log(
      `\n${customers.toLocaleString('en')} customers, ${Number(generated.raw_transactions).toLocaleString('en')} transactions generated in ${(setup.ms / 1000).toFixed(1)} s`,
    );
    // The reference reads the very Parquet files of the sources (freshly generated: no deletion vectors).
    const { sources } = await pipelineSql(dir, PIPELINE);
    const files: Record<string, string[]> = {};
    for (const source of sources) {
      const table = await DeltaTable.open(join(dir, 'data', source));
      if (table.snapshot.files.some((f) => f.deletionVector))
        throw new Error(`${source} has deletion vectors`);
      files[source] = table.snapshot.files.map((f) => join(table.snapshot.root, decodeURIComponent(f.path)));
    }
    const out = join(dir, 'reference-out');
    await mkdir(out, { recursive: true });

    const full = await pairedSides(
      SIDES,
      { name: 'duckdb-pipeline', args: { dir, pipeline: PIPELINE, sources: files, out } },
      { name: 'larder-pipeline', args: { dir, pipeline: PIPELINE, full: true } },
      REPEAT,
      (side, i, ms, detail) =>
        console.log(
          `  full run ${i}, ${side}: ${ms.toFixed(0)} ms${detail ? ` ${JSON.stringify(detail)}` : ''}`,
        ),
    );
    report({
      name: `full computation, ${customers.toLocaleString('en')} customers`,
      larderMs: full.larderMs,
      larderRss: full.larderPeakRss,
      referenceMs: full.referenceMs,
      referenceRss: full.referencePeakRss,
      bar: bars(customers).full,
    });

    // Incremental: a fresh CDC batch (applied here, untimed) before each timed run.
    const side = await startSide(SIDES, 'larder-pipeline', { dir, pipeline: PIPELINE, full: false });
    const incremental: number[] = [];
    const details: unknown[] = [];
    for (let i = 0; i < Math.max(REPEAT, 3); i++) {
      await applyChanges({ out: join(dir, 'data'), changes: CHANGES, seed: 1000 + i });
      const result = await side.run(i);
      const detail = result.detail as { mode: string; entities: number };
      if (detail.mode !== 'incremental') throw new Error(`run ${i} was ${detail.mode}`);
      console.log(`  incremental run ${i}: ${result.ms.toFixed(0)} ms ${JSON.stringify(detail)}`);
      incremental.push(result.ms);
      details.push(detail);
    }
    const peak = await side.finish();
    const entities = (details[0] as { entities: number }).entities;
    report({
      name: `incremental update, ${entities.toLocaleString('en')} changed of ${customers.toLocaleString('en')} customers`,
      larderMs: middle(incremental),
      larderRss: peak,
      referenceMs: full.referenceMs,
      referenceRss: full.referencePeakRss,
      bar: bars(customers).incremental,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const size of SIZES) await benchSize(size);

console.log(
  '\nThe seed’s target metrics, measured (reference: DuckDB alone, the same SQL over the same Parquet files, ' +
    'a full recompute, same run; peak RSS: of the child process that ran that side)',
);
console.log('| Operation | Target | Notes | Larder | peak RSS | DuckDB over Parquet | peak RSS | ratio |');
console.log('|---|---|---|---|---|---|---|---|');
for (const f of figures) {
  console.log(
    `| ${f.name} | ${f.bar} | customer_features, 15 features | ${(f.larderMs / 1000).toFixed(2)} s | ${formatBytes(f.larderRss)} | ${(f.referenceMs / 1000).toFixed(2)} s | ${formatBytes(f.referenceRss)} | ${(f.larderMs / f.referenceMs).toFixed(2)}× |`,
  );
}
