/**
 * `larder sql "<statement>"`: run Larder SQL (DuckDB SQL plus `read_delta`)
 * in the project folder and print the result. The statement comes from the
 * argument, or from standard input when the argument is `-`. The session
 * runs on the project's catalog and warehouse (its `larder.config.*` when
 * there is one; see `open-cli-project.ts`).
 *
 * With several statements, `table` prints every result and `json`/`csv` print
 * the last one, so their output stays one valid document.
 */
import { Command, Option } from 'commander';
import { LarderError } from '../../errors.js';
import { RESULT_FORMATS, type ResultFormat } from '../../sql/format-result.js';

interface SqlCommandOptions {
  readonly format: ResultFormat;
  readonly project?: string;
  readonly cwd?: string;
}

/** The `sql` command; its action writes the result to `process.stdout`. */
export function sqlCommand(): Command {
  return new Command('sql')
    .description('run Larder SQL (DuckDB SQL with read_delta) and print the result')
    .argument('<statement>', 'the SQL to run, or - to read it from standard input')
    .addOption(new Option('-f, --format <format>', 'output format').choices(RESULT_FORMATS).default('table'))
    .option('-C, --project <dir>', 'project folder (default: the current folder)')
    .addOption(new Option('--cwd <dir>', 'project folder (old spelling of --project)').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  $ larder sql "SELECT count(*) FROM read_delta('data/events')"
  $ larder sql "SELECT * FROM read_delta('data/events', version => 3) WHERE day = '2024-05-01'" --format csv
  $ echo "SELECT 42 AS answer" | larder sql - --format json`,
    )
    .action(async (statement: string, options: SqlCommandOptions) => {
      const sql = statement === '-' ? await readStdin() : statement;
      const { splitStatements } = await import('../../engine/sql-tokenizer.js');
      // Checked before the project opens: an empty run must not pass for a successful one.
      if (splitStatements(sql).length === 0) {
        throw new LarderError(
          'INVALID_ARGUMENT',
          `larder sql was given no SQL statement (${statement === '-' ? 'standard input' : 'the argument'} is empty or only comments)`,
          { field: 'statement', hint: 'pass a statement, e.g. larder sql "SHOW TABLES"' },
        );
      }
      // Loaded here, not at the top, so `larder --help` does not start DuckDB.
      const { SqlSession } = await import('../../sql/sql-session.js');
      const { formatResult } = await import('../../sql/format-result.js');
      const { openCliProject } = await import('../open-cli-project.js');
      const project = await openCliProject(options.project ?? options.cwd);
      try {
        const session = await SqlSession.open({ cwd: project.projectDir, engine: project.engine });
        try {
          const results = await session.executeAll(sql);
          const shown = options.format === 'table' ? results : results.slice(-1);
          const texts = shown
            .map((result) => formatResult(result, options.format))
            .filter((text) => text !== '');
          process.stdout.write(texts.join('\n'));
        } finally {
          await session.close();
        }
      } finally {
        await project.close();
      }
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
