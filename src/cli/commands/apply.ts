/**
 * `larder apply [-C dir] [--prune] [--yes] [--json]`: plan (as `larder
 * plan`), print the plan, ask for confirmation on a terminal (`--yes`
 * skips it; without a terminal none is asked), then create and update the
 * feature tables, and with `--prune` drop the ones the config created and
 * no longer declares. Nothing is written when the plan has errors.
 */
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';

interface ApplyCommandOptions {
  readonly project?: string;
  readonly prune: boolean;
  readonly yes: boolean;
  readonly json: boolean;
}

/** The `apply` command. */
export function applyCommand(): Command {
  return new Command('apply')
    .description('create and update the feature tables of larder.config.ts in the catalog')
    .option('-C, --project <dir>', 'project folder, holding larder.config.ts (default: the current folder)')
    .option('--prune', 'also drop tables the config created and no longer declares', false)
    .option('-y, --yes', 'do not ask for confirmation', false)
    .option('--json', 'print the plan and the result as JSON (asks nothing)', false)
    .addHelpText(
      'after',
      `
Examples:
  $ larder apply
  $ larder apply --prune --yes`,
    )
    .action(async (options: ApplyCommandOptions) => {
      const { openCliProject } = await import('../open-cli-project.js');
      const { planConfig, planSummary } = await import('../../config/plan.js');
      const { applyPlan } = await import('../../config/apply.js');
      const { formatPlan } = await import('../../config/format-plan.js');
      const { configInvalid } = await import('../../config/validate-config.js');
      const project = await openCliProject(options.project, { requireConfig: true });
      const loaded = project.loaded;
      try {
        const plan = await planConfig({ featureStore: project.featureStore, loaded });
        const summary = planSummary(plan);
        if (!options.json) process.stdout.write(formatPlan(plan, { prune: options.prune, errors: false }));
        if (plan.errors.length > 0) {
          if (options.json)
            process.stdout.write(`${JSON.stringify({ plan: { ...plan, summary } }, null, 2)}\n`);
          throw configInvalid(plan.errors, loaded);
        }
        const work = summary.create + summary.update + (options.prune ? summary.remove : 0);
        if (work === 0 && !options.json) {
          process.stdout.write('Nothing to apply.\n');
          return;
        }
        if (work > 0 && !options.yes && !options.json && process.stdin.isTTY && process.stdout.isTTY) {
          if (!(await confirm())) {
            process.stdout.write('Apply cancelled; nothing was changed.\n');
            return;
          }
        }
        const result = await applyPlan(plan, {
          featureStore: project.featureStore,
          prune: options.prune,
          onAction: options.json
            ? undefined
            : (action) => process.stdout.write(`${ACTION_VERB[action.kind]} ${action.table}…\n`),
        });
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ plan: { ...plan, summary }, result }, null, 2)}\n`);
          return;
        }
        const kept = result.keptRemovals.length;
        process.stdout.write(
          `Applied: ${result.created.length} created, ${result.updated.length} updated, ${result.removed.length} removed` +
            (kept > 0
              ? `; ${kept} table${kept === 1 ? '' : 's'} no longer declared kept (apply --prune drops them)`
              : '') +
            '.\n',
        );
      } finally {
        await project.close();
      }
    });
}

const ACTION_VERB = {
  create: 'creating',
  update: 'updating',
  remove: 'removing',
  unchanged: 'keeping',
} as const;

async function confirm(): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question('\nApply these changes? Only "yes" is accepted: ');
    return answer.trim() === 'yes';
  } finally {
    rl.close();
  }
}
