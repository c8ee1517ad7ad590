/**
 * A plan as people read it, in the manner of `terraform plan`: one line per
 * table (`+ create`, `~ update`, `= unchanged`, `- remove`), the details of
 * each change below it, warnings and errors as `<file>: <object> › <field>:
 * <problem>`, and a summary line.
 */
import { relative } from 'node:path';
import { type Plan, planSummary } from './plan.js';
import { formatConfigProblem } from './validate-config.js';

export interface FormatPlanOptions {
  /** Removals will be carried out (`apply --prune`): no "(with --prune)" note. */
  readonly prune?: boolean;
  /** List the errors (default true; the CLI reports them as its error instead). */
  readonly errors?: boolean;
}

/**
 * The plan as text (ends with a newline).
 *
 * @example
 * process.stdout.write(formatPlan(await planConfig({ featureStore, loaded })));
 * // + create ml.churn_features.customer_features
 * //     primary keys: customer_id
 * // …
 * // Plan: 1 to create, 0 to update, 0 unchanged, 0 to remove.
 */
export function formatPlan(plan: Plan, options: FormatPlanOptions = {}): string {
  const file = relative(plan.projectDir, plan.file) || plan.file;
  const lines: string[] = [`Larder plan for ${plan.file}`, ''];
  for (const action of plan.actions) {
    switch (action.kind) {
      case 'create': {
        const spec = action.spec;
        lines.push(`+ create ${action.table}`);
        lines.push(`    primary keys: ${spec.primaryKeys.join(', ')}`);
        if (spec.timeseriesColumn !== undefined)
          lines.push(`    timeseries column: ${spec.timeseriesColumn}`);
        if (spec.partitionColumns.length > 0)
          lines.push(`    partitioned by: ${spec.partitionColumns.join(', ')}`);
        if (spec.clusterBy.length > 0) lines.push(`    clustered by: ${spec.clusterBy.join(', ')}`);
        lines.push(
          ...wrap(
            `columns (${spec.columns.length}):`,
            spec.columns.map((c) => `${c.name} ${c.type}`),
          ),
        );
        if (spec.lineage) {
          lines.push(
            `    written by pipeline ${spec.lineage.pipeline} from ${spec.lineage.sources.join(', ') || '(no source)'}`,
          );
        }
        if (spec.description !== undefined)
          lines.push(`    description: ${JSON.stringify(spec.description)}`);
        if (spec.owner !== undefined) lines.push(`    owner: ${spec.owner}`);
        const tags = Object.entries(spec.tags);
        if (tags.length > 0) lines.push(`    tags: ${tags.map(([k, v]) => `${k}=${v}`).join(', ')}`);
        lines.push(`    location: ${spec.location}`);
        break;
      }
      case 'update':
        lines.push(`~ update ${action.table}`);
        for (const change of action.changes) {
          lines.push(`    ${change.field}: ${value(change.from)} → ${value(change.to)}`);
        }
        break;
      case 'unchanged':
        lines.push(`= unchanged ${action.table}`);
        break;
      case 'remove':
        lines.push(
          `- remove ${action.table}${options.prune ? '' : ' (with --prune)'}${action.managed ? ' and its data' : ''}`,
        );
        break;
    }
  }
  if (plan.actions.length > 0) lines.push('');
  if (plan.warnings.length > 0) {
    lines.push('warnings:');
    for (const warning of plan.warnings) lines.push(`  ${formatConfigProblem(warning, file)}`);
    lines.push('');
  }
  if (plan.errors.length > 0 && options.errors !== false) {
    lines.push('errors:');
    for (const error of plan.errors) lines.push(`  ${formatConfigProblem(error, file)}`);
    lines.push('');
  }
  lines.push(summaryLine(plan, options));
  return `${lines.join('\n')}\n`;
}

/** `Plan: 1 to create, 2 to update, 3 unchanged, 0 to remove.`, or why nothing can be applied. */
export function summaryLine(plan: Plan, options: FormatPlanOptions = {}): string {
  const s = planSummary(plan);
  if (s.errors > 0) {
    return `Plan: ${s.errors} error${s.errors === 1 ? '' : 's'}; nothing can be applied until ${s.errors === 1 ? 'it is' : 'they are'} fixed.`;
  }
  if (s.create + s.update + s.remove === 0) {
    return `No changes: the catalog matches the config (${s.unchanged} table${s.unchanged === 1 ? '' : 's'}).`;
  }
  const removal = `${s.remove} to remove${s.remove > 0 && !options.prune ? ' (with --prune)' : ''}`;
  return `Plan: ${s.create} to create, ${s.update} to update, ${s.unchanged} unchanged, ${removal}.`;
}

/** `    <label> a, b, c,` wrapped under the label at about 100 characters. */
function wrap(label: string, items: readonly string[]): string[] {
  const lines: string[] = [];
  let line = `    ${label}`;
  items.forEach((item, i) => {
    const text = i < items.length - 1 ? `${item},` : item;
    if (line.length + 1 + text.length > 100 && line.trim() !== label) {
      lines.push(line);
      line = `      ${text}`;
    } else line += ` ${text}`;
  });
  lines.push(line);
  return lines;
}

function value(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  return JSON.stringify(v);
}
