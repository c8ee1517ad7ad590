/**
 * A writer process for the reliability tests.
 *
 * `crash <path>`: forever, open the table and apply `operationFor(v + 1)`;
 * the test kills it with SIGKILL at a random moment.
 *
 * `concurrent <path> <worker> <rounds>`: alternately append rows with ids only
 * this worker uses, and merge (update) some of them; print one JSON line per
 * operation: `{"op","ok","code","ids","value"}`.
 */
import { DeltaTable } from '../../src/delta/delta-table.js';
import { isLarderError } from '../../src/errors.js';
import { deletePredicate, operationFor } from './workload.js';

const [mode, path, workerArg, roundsArg] = process.argv.slice(2);
if (!path) throw new Error('usage: table-worker crash|concurrent <path> [worker rounds]');

function valuesSql(ids: readonly number[], value: number): string {
  return `SELECT * FROM (VALUES ${ids.map((id) => `(${id}::BIGINT, ${value}::BIGINT)`).join(', ')}) AS t(id, value)`;
}

async function crashLoop(): Promise<void> {
  process.stdout.write('ready\n');
  for (;;) {
    const table = await DeltaTable.open(path!);
    const op = operationFor(table.version + 1);
    if (op.kind === 'append') await table.append(valuesSql(op.ids, op.value));
    else if (op.kind === 'merge') await table.merge({ source: valuesSql(op.ids, op.value), on: ['id'] });
    else await table.delete(deletePredicate(op));
  }
}

async function concurrentLoop(worker: number, rounds: number): Promise<void> {
  const appended: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const isMerge = round % 2 === 0 && appended.length > 0;
    const ids = isMerge
      ? appended.filter((_, i) => i % 3 === round % 3).slice(0, 20)
      : Array.from({ length: 10 }, (_, i) => worker * 1_000_000 + round * 100 + i);
    const value = worker * 1000 + round;
    const op = isMerge ? 'merge' : 'append';
    try {
      const table = await DeltaTable.open(path!);
      if (isMerge) await table.merge({ source: valuesSql(ids, value), on: ['id'] });
      else await table.append(valuesSql(ids, value));
      if (!isMerge) appended.push(...ids);
      process.stdout.write(`${JSON.stringify({ op, ok: true, ids, value })}\n`);
    } catch (error) {
      const code = isLarderError(error) ? error.code : 'UNEXPECTED';
      process.stdout.write(
        `${JSON.stringify({ op, ok: false, code, message: (error as Error).message, ids, value })}\n`,
      );
    }
  }
}

if (mode === 'crash') await crashLoop();
else await concurrentLoop(Number(workerArg), Number(roundsArg));
