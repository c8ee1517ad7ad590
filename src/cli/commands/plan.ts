/**
 * `larder plan [-C dir] [--json]`: load and validate `larder.config.ts`,
 * compare it with the catalog and print what `larder apply` would do. It
 * changes nothing. Exit code 1 when the config or the plan has errors
 * (each named `<file>: <object> › <field>: <problem>`).
 */
import { Command } from 'commander';

interface PlanCommandOptions {
  readonly project?: string;
  readonly json: boolean;
}

/** The `plan` command. */
export function planCommand(): Command {
  return new Command('plan')
    .description('show what `larder apply` would change in the catalog (changes nothing)')
    .option('-C, --project <dir>', 'project folder, holding larder.config.ts (default: the current folder)')
    .option('--json', 'print the plan as JSON', false)
    .addHelpText(
      'after',
      `
Symbols: + create, ~ update, = unchanged, - remove (only with apply --prune).

Examples:
  $ larder plan
  $ larder plan -C churn-demo --json`,
    )
    .action(async (options: PlanCommandOptions) => {
      const { openCliProject } = await import('../open-cli-project.js');
      const { planConfig, planSummary } = await import('../../config/plan.js');
      const { formatPlan } = await import('../../config/format-plan.js');
      const { configInvalid } = await import('../../config/validate-config.js');
      const project = await openCliProject(options.project, { requireConfig: true, dryRun: true });
      const loaded = project.loaded;
      try {
        const plan = await planConfig({ featureStore: project.featureStore, loaded });
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ ...plan, summary: planSummary(plan) }, null, 2)}\n`
            : formatPlan(plan, { errors: false }),
        );
        if (plan.errors.length > 0) throw configInvalid(plan.errors, loaded);
      } finally {
        await project.close();
      }
    });
}
