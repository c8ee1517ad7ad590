/**
 * `larder apply`: carry out a plan (see `plan.ts`). New feature tables are
 * created empty with the planned columns (through
 * `FeatureStore.createTable`) and marked `larder.managedBy = config`;
 * updates change the catalog entry (description, owner, feature
 * descriptions, lineage, tags) and the Delta table (clustering, properties);
 * with `prune`, tables the config created and no longer declares are
 * dropped (a managed table's folder with it).
 *
 * Invariants:
 * - nothing is written when the plan has errors (`CONFIG_INVALID` listing
 *   them, as `larder plan` shows them);
 * - each table's change is all or nothing as far as its parts allow: a
 *   create that fails is undone by `createTable` (the mark is set in the
 *   same catalog step as the registration), and the Delta changes of an update commit before its catalog
 *   change, so a failure never leaves the catalog claiming what the table
 *   is not;
 * - actions run in plan order and stop at the first failure, which names
 *   the table; the tables done before it stay done (plan again to see).
 */
import { setTableProperties } from '../delta/operations/set-properties.js';
import { isLarderError, LarderError } from '../errors.js';
import type { FeatureStore } from '../features/feature-store.js';
import type { FeatureType } from './define-config.js';
import { managedMark } from './managed-by.js';
import { type Plan, type PlanAction, type PlannedTable, splitName } from './plan.js';
import { configInvalid } from './validate-config.js';

export interface ApplyPlanOptions {
  /** The store the plan was made with (its catalog and engine). */
  readonly featureStore: FeatureStore;
  /** Also drop the tables the plan would remove. */
  readonly prune?: boolean;
  /** Called before each action runs. */
  readonly onAction?: (action: PlanAction) => void;
}

export interface ApplyResult {
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly removed: readonly string[];
  /** Tables the plan would remove, left in place because `prune` was not set. */
  readonly keptRemovals: readonly string[];
}

/**
 * Apply a plan.
 *
 * @example
 * const plan = await planConfig({ featureStore: fs, loaded });
 * const result = await applyPlan(plan, { featureStore: fs, prune: false });
 * console.log(result.created, result.updated);
 */
export async function applyPlan(plan: Plan, options: ApplyPlanOptions): Promise<ApplyResult> {
  if (plan.errors.length > 0) {
    throw configInvalid(plan.errors, { file: plan.file, projectDir: plan.projectDir });
  }
  const fs = options.featureStore;
  const created: string[] = [];
  const updated: string[] = [];
  const removed: string[] = [];
  const keptRemovals: string[] = [];
  for (const action of plan.actions) {
    if (action.kind === 'unchanged') continue;
    if (action.kind === 'remove' && !options.prune) {
      keptRemovals.push(action.table);
      continue;
    }
    options.onAction?.(action);
    try {
      switch (action.kind) {
        case 'create':
          await createTable(fs, action.spec, plan.project);
          created.push(action.table);
          break;
        case 'update':
          await updateTable(fs, action.spec, action.changes);
          updated.push(action.table);
          break;
        case 'remove':
          await fs.dropTable(action.table);
          removed.push(action.table);
          break;
      }
    } catch (error) {
      const done = [...created.map((t) => `created ${t}`), ...updated.map((t) => `updated ${t}`)];
      const message = error instanceof Error ? error.message : String(error);
      throw new LarderError(
        isLarderError(error) ? error.code : 'IO_ERROR',
        `apply stopped at ${action.kind} ${action.table}: ${message}`,
        {
          table: action.table,
          cause: error,
          hint:
            done.length > 0
              ? `already done: ${done.join(', ')}; run larder plan to see what is left`
              : 'nothing was changed',
        },
      );
    }
  }
  return Object.freeze({
    created: Object.freeze(created),
    updated: Object.freeze(updated),
    removed: Object.freeze(removed),
    keptRemovals: Object.freeze(keptRemovals),
  });
}

async function createTable(fs: FeatureStore, spec: PlannedTable, project: string): Promise<void> {
  const schema: Record<string, { type: FeatureType; description?: string }> = {};
  for (const column of spec.columns) {
    schema[column.name] = {
      type: column.type as FeatureType,
      ...(column.description !== undefined ? { description: column.description } : {}),
    };
  }
  await fs.createTable({
    name: spec.name,
    primaryKeys: spec.primaryKeys,
    ...(spec.timeseriesColumn !== undefined ? { timeseriesColumn: spec.timeseriesColumn } : {}),
    partitionColumns: spec.partitionColumns,
    clusterBy: spec.clusterBy,
    schema,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    tags: spec.tags,
    ...(spec.owner !== undefined ? { owner: spec.owner } : {}),
    properties: spec.properties,
    ...(spec.lineage !== undefined ? { lineage: spec.lineage } : {}),
    ownership: managedMark(project),
  });
}

async function updateTable(
  fs: FeatureStore,
  spec: PlannedTable,
  changes: readonly { readonly field: string; readonly to: unknown }[],
): Promise<void> {
  const name = splitName(spec.name);
  const fields = new Set(changes.map((c) => c.field));
  const has = (prefix: string) => changes.some((c) => c.field === prefix || c.field.startsWith(`${prefix}.`));

  // The Delta table first: the catalog then describes what the table is.
  if (fields.has('clusterBy') || has('properties')) {
    const { table } = await fs.engine.resolveTable(name);
    if (fields.has('clusterBy')) await table.clusterBy(spec.clusterBy);
    if (has('properties')) {
      const set: Record<string, string> = {};
      for (const change of changes) {
        if (change.field.startsWith('properties.'))
          set[change.field.slice('properties.'.length)] = String(change.to);
      }
      await setTableProperties((await table.refresh()).snapshot, { set });
    }
  }

  const entry = await fs.metastore.getTable(name);
  if (!entry?.feature) {
    throw new LarderError('TABLE_NOT_FOUND', `feature table ${spec.name} is no longer in the catalog`, {
      table: spec.name,
    });
  }
  if (
    fields.has('description') ||
    fields.has('owner') ||
    fields.has('clusterBy') ||
    has('features') ||
    has('lineage')
  ) {
    const described = new Map(spec.columns.map((c) => [c.name.toLowerCase(), c.description]));
    const { owner: _owner, ...feature } = entry.feature;
    await fs.metastore.updateTable(name, {
      ...(fields.has('description') ? { description: spec.description ?? null } : {}),
      feature: {
        ...feature,
        ...(spec.owner !== undefined ? { owner: spec.owner } : {}),
        clusterBy: [...spec.clusterBy],
        features: entry.feature.features.map((f) => {
          const description = described.get(f.name.toLowerCase());
          return description === undefined ? f : { ...f, description };
        }),
        ...(spec.lineage !== undefined
          ? { lineage: { pipeline: spec.lineage.pipeline, sources: [...spec.lineage.sources] } }
          : {}),
      },
    });
  }
  for (const change of changes) {
    if (!change.field.startsWith('tags.')) continue;
    const key = change.field.slice('tags.'.length);
    if (change.to === null) await fs.metastore.deleteTableTag(name, key);
    else await fs.metastore.setTableTag(name, key, String(change.to));
  }
}
