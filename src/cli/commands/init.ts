/**
 * `larder init [dir] [--example churn] [--customers N] [--force]`: scaffold
 * a project (see `src/config/init-project.ts`) and say what to run next.
 */
import { relative } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';

interface InitCommandOptions {
  readonly example?: string;
  readonly customers?: number;
  readonly seed?: number;
  readonly force: boolean;
}

function wholeNumber(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new InvalidArgumentError('not a whole number');
  return value;
}

/** The `init` command. */
export function initCommand(): Command {
  return new Command('init')
    .description(
      'create a Larder project: larder.config.ts, .gitignore, README (or an example with its data)',
    )
    .argument('[dir]', 'project folder (created if missing)', '.')
    .addOption(new Option('--example <name>', 'start from an example project').choices(['churn']))
    .addOption(
      new Option('--customers <n>', 'with --example churn: customers to generate (default 10000)').argParser(
        wholeNumber,
      ),
    )
    .addOption(new Option('--seed <n>', 'seed of the generated data (default 42)').argParser(wholeNumber))
    .option('--force', 'overwrite an existing config (and the example data)', false)
    .addHelpText(
      'after',
      `
Examples:
  $ larder init my-features
  $ larder init churn-demo --example churn --customers 5000`,
    )
    .action(async (dir: string, options: InitCommandOptions) => {
      const { initProject } = await import('../../config/init-project.js');
      const result = await initProject({
        dir,
        force: options.force,
        ...(options.example !== undefined ? { example: options.example } : {}),
        ...(options.customers !== undefined ? { customers: options.customers } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
      });
      const lines = [`created a Larder project in ${result.dir}`];
      for (const file of result.files) lines.push(`  ${relative(result.dir, file)}`);
      if (result.data) {
        for (const [table, rows] of Object.entries(result.data.tables)) {
          lines.push(`  ${relative(result.dir, result.data.folder)}/${table} (${rows} rows)`);
        }
      }
      const cd = relative(process.cwd(), result.dir);
      lines.push('', 'next:');
      if (cd !== '') lines.push(`  cd ${cd}`);
      lines.push('  larder plan      # what apply would create', '  larder apply', '');
      process.stdout.write(lines.join('\n'));
    });
}
