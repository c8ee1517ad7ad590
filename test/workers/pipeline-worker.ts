/**
 * A pipeline-running process for the failure tests: `run <projectDir> <firstBatch>`
 * appends batch n to the sources and runs the pipeline, for n = firstBatch,
 * firstBatch + 1, … forever, printing `ready`, then `batch <n>`, `run <n>`
 * and `done <n>` as it goes. The test kills it with SIGKILL at a random moment.
 */
import { Engine } from '../../src/engine/engine.js';
import { runPipeline } from '../../src/pipelines/run-pipeline.js';
import { appendBatch, PIPELINE, workloadConfig } from './pipeline-workload.js';

const [mode, projectDir, firstArg] = process.argv.slice(2);
if (mode !== 'run' || !projectDir) throw new Error('usage: pipeline-worker run <projectDir> <firstBatch>');

const engine = await Engine.open({ projectDir });
const config = workloadConfig();
process.stdout.write('ready\n');
for (let n = Number(firstArg ?? 1); ; n++) {
  await appendBatch(projectDir, n);
  process.stdout.write(`batch ${n}\n`);
  process.stdout.write(`run ${n}\n`);
  await runPipeline({ engine, config, pipeline: PIPELINE });
  process.stdout.write(`done ${n}\n`);
}
