/**
 * The `larder` command line: builds the commander program, registers the
 * commands (each a thin layer over a library module) and maps failures to
 * exit codes. This is the only module that calls `process.exit`:
 * - 0: success (including `--help` and `--version`);
 * - 1: a `LarderError` or a usage error, printed as `error [CODE]: message`;
 * - 130 (143 for SIGTERM): a command cancelled by Ctrl-C, printed as `cancelled: message`;
 * - 2: an unexpected error (its stack is printed when `LARDER_DEBUG=1`).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isLarderError } from '../errors.js';
import { applyCommand } from './commands/apply.js';
import { describeCommand } from './commands/describe.js';
import { historyCommand } from './commands/history.js';
import { initCommand } from './commands/init.js';
import { planCommand } from './commands/plan.js';
import { runCommand } from './commands/run.js';
import { runsCommand } from './commands/runs.js';
import { sqlCommand } from './commands/sql.js';
import { tablesCommand } from './commands/tables.js';

/** The version in package.json (two folders up from both src/cli and dist/cli). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The `larder` program with every command registered. */
export function createProgram(): Command {
  const program = new Command('larder')
    .description('Larder: a feature store for TypeScript, on Delta Lake and DuckDB')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const command of [
    sqlCommand(),
    tablesCommand(),
    describeCommand(),
    historyCommand(),
    initCommand(),
    planCommand(),
    applyCommand(),
    runCommand(),
    runsCommand(),
  ]) {
    // Commands built on their own do not inherit exitOverride and the help settings.
    program.addCommand(command.copyInheritedSettings(program));
  }
  return program;
}

/** Run the CLI with `argv` (as in `process.argv`) and resolve to the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 1;
    if (isLarderError(error, 'CANCELLED')) {
      process.stderr.write(`cancelled: ${error.message}\n`);
      return error.context.signal === 'SIGTERM' ? 143 : 130;
    }
    if (isLarderError(error)) {
      process.stderr.write(`error [${error.code}]: ${error.message}\n`);
      if (process.env.LARDER_DEBUG === '1' && error.stack) process.stderr.write(`${error.stack}\n`);
      return 1;
    }
    const err = error instanceof Error ? error : new Error(String(error));
    process.stderr.write(`unexpected error: ${err.message}\n`);
    if (process.env.LARDER_DEBUG === '1' && err.stack) process.stderr.write(`${err.stack}\n`);
    else process.stderr.write('(set LARDER_DEBUG=1 to see the stack)\n');
    return 2;
  }
}

/** Run the CLI on this process's arguments, then exit with its code once stdout is flushed. */
export async function main(): Promise<never> {
  const code = await runCli(process.argv);
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
