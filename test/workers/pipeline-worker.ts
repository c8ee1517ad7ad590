/**
 * A pipeline-running process for the failure tests, printing `ready` once its engine is open:
 * - `run <projectDir> <firstBatch>` appends batch n to the sources and runs the pipeline, for
 *   n = firstBatch, firstBatch + 1, … forever, printing `batch <n>`, `run <n>` and `done <n>`;
 * - `apply <projectDir>` plans and applies the workload's config (creating the output table),
 *   printing `applied`;
 * - `once <projectDir>` runs the pipeline once, printing `done`.
 * The test kills it with SIGKILL at a random moment.
 */
import { applyPlan } from '../../src/config/apply.js';
import { planConfig } from '../../src/config/plan.js';
import { validateConfig } from '../../src/config/validate-config.js';
import { Engine } from '../../src/engine/engine.js';
import { FeatureStore } from '../../src/features/feature-store.js';
import { runPipeline } from '../../src/pipelines/run-pipeline.js';
import { appendBatch, PIPELINE, workloadConfig } from './pipeline-workload.js';

const [mode, projectDir, firstArg] = process.argv.slice(2);
if (!['run', 'apply', 'once'].includes(mode ?? '') || !projectDir)
  throw new Error('usage: pipeline-worker run|apply|once <projectDir> [firstBatch]');

const engine = await Engine.open({ projectDir });
const config = workloadConfig();
// A short lease TTL: the test's next run waits that long for the lease of a killed worker.
const lease = { ttlMs: 1000 };
process.stdout.write('ready\n');
if (mode === 'apply') {
  const featureStore = await FeatureStore.open({ engine });
  const loaded = {
    config: validateConfig(config, { file: `${projectDir}/larder.config.ts` }),
    file: `${projectDir}/larder.config.ts`,
    projectDir,
  };
  await applyPlan(await planConfig({ featureStore, loaded }), { featureStore });
  process.stdout.write('applied\n');
} else if (mode === 'once') {
  await runPipeline({ engine, config, pipeline: PIPELINE, lease });
  process.stdout.write('done\n');
} else {
  for (let n = Number(firstArg ?? 1); ; n++) {
    await appendBatch(projectDir, n);
    process.stdout.write(`batch ${n}\n`);
    process.stdout.write(`run ${n}\n`);
    await runPipeline({ engine, config, pipeline: PIPELINE, lease });
    process.stdout.write(`done ${n}\n`);
  }
}
await engine.close();
