/**
 * Larder SQL text handling (issue 9): the cost of reading a script must grow
 * linearly with its length. Scripts with 500, 1,000, 2,000 and 4,000
 * backticked identifiers are timed
 *
 *   npm run bench:sql              (LARDER_BENCH_SQL_SIZES=500,1000,2000,4000 by default)
 *
 * - through `parseScript` (split, tokenize, Spark dialect, Larder's parser:
 *   Larder's own work on the text), and
 * - end to end through `SqlSession.execute` (plus DuckDB's parse, bind and run),
 * - and, for reference, DuckDB alone running the same SELECT with double-quoted
 *   names on a plain connection (what no Larder change can make cheaper),
 *
 * printing each median and its ratio to the size before: a linear pass doubles
 * (≈ 2×) when the script doubles, a quadratic one quadruples (≈ 4×).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/duckdb/duckdb.js';
import { SqlSession } from '../src/sql/sql-session.js';
import { parseScript } from '../src/sql/statements/parse-statement.js';
import { median } from './bench-utils.js';

const SIZES = (process.env.LARDER_BENCH_SQL_SIZES ?? '500,1000,2000,4000').split(',').map(Number);
const REPEAT = Number(process.env.LARDER_BENCH_REPEAT ?? 5);

/** One SELECT naming `n` backticked columns (a Spark user's script, in one statement). */
function script(n: number, quote = '`'): string {
  const columns = Array.from({ length: n }, (_, i) => `${i} AS ${quote}feature ${i}${quote}`);
  return `SELECT ${columns.join(',\n       ')}`;
}

const dir = await mkdtemp(join(tmpdir(), 'larder-bench-sql-'));
const session = await SqlSession.open({ cwd: dir });
const duckdb = await connect();
try {
  // Warm up DuckDB and the JIT on the smallest size, so the first row is not paying for compilation.
  for (let run = 0; run < 3; run++) {
    parseScript(script(SIZES[0]!));
    await session.execute(script(SIZES[0]!));
  }
  const rows: { n: number; parse: number; execute: number; duckdb: number }[] = [];
  for (const n of SIZES) {
    const sql = script(n);
    const quoted = script(n, '"');
    rows.push({
      n,
      parse: await median(async () => parseScript(sql), REPEAT),
      execute: await median(() => session.execute(sql), REPEAT),
      duckdb: await median(() => duckdb.runAndReadAll(quoted), REPEAT),
    });
  }
  const cell = (now: number, then: number | undefined) =>
    `${now.toFixed(1).padStart(10)}${then === undefined ? '' : ` (${(now / then).toFixed(2)}×)`}`.padEnd(20);
  console.log('backticked identifiers | parseScript ms      | SqlSession.execute  | DuckDB alone');
  for (const [i, row] of rows.entries()) {
    const before = rows[i - 1];
    console.log(
      `${String(row.n).padStart(22)} | ${cell(row.parse, before?.parse)}| ${cell(row.execute, before?.execute)}| ${cell(row.duckdb, before?.duckdb)}`,
    );
  }
  console.log('(× = ratio to the size before: ≈ 2× when linear, ≈ 4× when quadratic)');
} finally {
  duckdb.closeSync();
  await session.close();
  await rm(dir, { recursive: true, force: true });
}
