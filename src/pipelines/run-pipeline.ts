/**
 * Feature pipelines: a pipeline of `larder.config.ts` (DuckDB SQL over its
 * sources) computed into its feature table, fully or incrementally, with one
 * row of computation metrics per run.
 *
 * A full run (the first one, `full: true`, a pipeline without `incremental`,
 * a pipeline whose SQL, sources or keys changed since the last run, or an
 * output whose columns changed) overwrites the table with the SQL's output,
 * and the table's columns become the output's (Delta `overwriteSchema`:
 * columns the SQL no longer outputs are dropped, new ones added, in the
 * same commit; the catalog's feature list follows), so the next run can be
 * incremental again.
 *
 * An incremental run recomputes only the entities whose source rows changed:
 * 1. the watermarks W_s of the change-tracked sources come from the table's
 *    own Delta log (`pipeline-state.ts`);
 * 2. the changed rows of each tracked source s are those whose change column
 *    is past W_s; its new watermark H_s is their greatest change value;
 * 3. the affected keys K are the distinct entity keys of the changed rows;
 * 4. the SQL runs with every source that has the key columns restricted to
 *    K (the others whole), and its output is restricted to K;
 * 5. rows of the table whose entity is in K but that the new output lacks
 *    are tombstones;
 * 6. one Delta MERGE by primary key upserts the output and deletes the
 *    tombstones, and its commit carries the new watermarks.
 *
 * The contract that makes incremental equal full (documented on
 * `PipelineConfig`): an entity's output rows depend only on the source rows
 * of that entity and on the sources without the key columns; sources change
 * by rows whose change column moves forward (a deletion is an update that
 * marks the row deleted); a row's entity key does not change. Late rows (an
 * old event time, a new change value) are picked up because selection is by
 * change value, not event time.
 *
 * Invariants:
 * - every source is pinned for the whole run (`sources/`), and the MERGE or
 *   overwrite commits against the table version the run read: a concurrent
 *   change to the table or to the pipeline's state is a conflict, never a
 *   lost update;
 * - the watermark advances if and only if the data commits; a failed run
 *   leaves the table and its state untouched (a table it created is
 *   dropped again), records a failed metrics row
 *   and throws `PIPELINE_FAILED` (message: pipeline and cause; the cause
 *   kept); a killed run leaves the table at its last committed version;
 * - a run with no changed rows commits nothing;
 * - intermediate tables live in a schema of the run, dropped at the end;
 * - a run holds its pipeline's lease in the catalog (`pipeline-lease.ts`), so
 *   a second run of the pipeline waits for the first (or fails with
 *   `PIPELINE_BUSY`) rather than doing the same work;
 * - a run cancelled through `signal` stops between steps (a running DuckDB
 *   query of the run is interrupted) and never after its commit started: it
 *   records a `cancelled` metrics row and throws `CANCELLED`, whose message
 *   says truthfully whether the table is unchanged.
 */
import { randomUUID } from 'node:crypto';
import type { TableEntry, TableName } from '../catalog/metastore.js';
import type { LarderConfig } from '../config/define-config.js';
import { fromDuckDBType, serializeSchema, toDuckDBType } from '../delta/log/schema.js';
import type { Snapshot } from '../delta/log/snapshot.js';
import { type MergeMetrics, mergeTable } from '../delta/operations/merge.js';
import { canWrite } from '../delta/operations/schema-reconcile.js';
import { type WriteMetrics, writeTable } from '../delta/operations/write.js';
import { filesForKeys, readKeyBounds } from '../delta/scan/key-pruning.js';
import { planScan } from '../delta/scan/scan.js';
import { queryJson, run as runSql, sqlIdent } from '../duckdb/duckdb.js';
import type { Engine } from '../engine/engine.js';
import { isLarderError, LarderError } from '../errors.js';
import { FeatureStore } from '../features/feature-store.js';
import { deltaTypeName, featureColumns } from '../features/feature-table.js';
import { type ComputationMetricsRow, recordComputationMetrics } from './computation-metrics.js';
import { describeBound, type OutputColumn } from './describe-pipeline-output.js';
import { ensureOutputTable } from './ensure-output-table.js';
import {
  type PipelineDefinition,
  pipelineFingerprint,
  pipelineSql,
  resolvePipeline,
} from './pipeline-definition.js';
import { PipelineLease, type PipelineLeaseOptions } from './pipeline-lease.js';
import { pipelineQuery } from './pipeline-query.js';
import { type PipelineState, pipelineStateMetadata, readPipelineState } from './pipeline-state.js';
import { RunScope } from './run-scope.js';
import { bindSources } from './sources/bind-source.js';
import type { BoundSource, KeyFilter, SourceRead } from './sources/bound-source.js';
import { keySemiJoin } from './sources/key-semi-join.js';

/** A phase of a run, reported to `onProgress` when it starts and when it ends. */
export interface RunProgress {
  readonly phase: 'read' | 'compute' | 'write' | 'metrics';
  /** Rows: read from the sources (read), computed (compute), written (write). */
  readonly rows?: number;
  /** Data files read so far / in all (read). */
  readonly files?: number;
  readonly filesTotal?: number;
  /** True on the event that ends the phase. */
  readonly done?: boolean;
}

export interface RunPipelineOptions {
  /** The engine to run on (or give `featureStore`). */
  readonly engine?: Engine;
  readonly featureStore?: FeatureStore;
  /** Relative source paths resolve here (default: the engine's project folder). */
  readonly projectDir?: string;
  readonly config: LarderConfig;
  /** The pipeline's name (a key of `config.pipelines`). */
  readonly pipeline: string;
  /** Recompute the whole table even when an incremental run is possible. */
  readonly full?: boolean;
  readonly onProgress?: (progress: RunProgress) => void;
  /**
   * Cancels the run (Ctrl-C): it stops between steps, or interrupts the DuckDB query it is
   * running, unless its commit has started. Its reason, when a string (`SIGINT`), is kept in the
   * `CANCELLED` error's context as `signal`.
   */
  readonly signal?: AbortSignal;
  /**
   * How the run takes its pipeline's lease (default: wait for a run holding it, 30 s TTL);
   * `false` runs without one, for callers that serialise runs themselves.
   */
  readonly lease?: PipelineLeaseOptions | false;
}

/** What a successful run did. */
export interface RunResult {
  readonly runId: string;
  readonly pipeline: string;
  /** The feature table's full name. */
  readonly featureTable: string;
  readonly mode: 'full' | 'incremental';
  /** Why the run was full although the pipeline is incremental. */
  readonly reason?: string;
  readonly status: 'success';
  readonly startedAt: Date;
  /** The table's version after the run. */
  readonly tableVersion: number;
  /** Whether the run committed a new table version. */
  readonly committed: boolean;
  /** Whether the run created the table. */
  readonly created: boolean;
  /** Entities (distinct entity keys) recomputed. */
  readonly numEntitiesProcessed: number;
  /** Feature (non-key) columns of the output. */
  readonly numFeaturesComputed: number;
  readonly sourceRowsRead: number;
  /** Rows inserted or updated. */
  readonly rowsWritten: number;
  /** Rows deleted (incremental runs: entities' rows that the output no longer has). */
  readonly rowsDeleted: number;
  readonly durationSeconds: number;
  /** Entities processed per second. */
  readonly rowsPerSecond: number;
  /** The watermarks the table now holds, per change-tracked source. */
  readonly watermarks: Readonly<Record<string, string | null>>;
  /** How many times the run computed: more than 1 when a concurrent commit made it start over. */
  readonly attempts: number;
  /** The metrics table the run's row went to. */
  readonly metricsTable: string;
  /** Set when the run's data committed but its metrics row could not be written. */
  readonly metricsError?: string;
}

interface Computed {
  readonly mode: 'full' | 'incremental';
  readonly reason?: string;
  readonly created: boolean;
  readonly tableVersion: number;
  readonly committed: boolean;
  readonly entities: number;
  readonly features: number;
  readonly sourceRows: number;
  readonly rowsWritten: number;
  readonly rowsDeleted: number;
  readonly watermarks: Readonly<Record<string, string | null>>;
}

/** Runs that lose their commit to a concurrent writer start over, up to this many times in all. */
const MAX_RUN_ATTEMPTS = 3;

/** The column flagging tombstones in the merge source. */
const TOMBSTONE = '__larder_tombstone';

/**
 * Run pipeline `pipeline`: full or incremental, as the table's state and
 * `full` decide. Throws `PIPELINE_NOT_FOUND` or `CONFIG_INVALID` for a
 * pipeline the config does not define well (no run, no metrics row), and
 * `PIPELINE_FAILED` for a run that failed (after its metrics row).
 *
 * @example
 * const result = await runPipeline({ engine, config, pipeline: 'customer_features',
 *   onProgress: (p) => console.log(p.phase, p.rows ?? '') });
 * console.log(result.mode, result.numEntitiesProcessed, result.tableVersion);
 */
export async function runPipeline(options: RunPipelineOptions): Promise<RunResult> {
  const startedAt = new Date();
  const started = performance.now();
  const runId = randomUUID();
  const store = options.featureStore ?? (await featureStoreOf(options.engine));
  const engine = store.engine;
  const definition = resolvePipeline(options.config, options.pipeline);
  const outputName = engine.parseName(definition.output);
  const featureTable = `${outputName.catalog}.${outputName.schema}.${outputName.table}`;
  const progress = options.onProgress ?? (() => undefined);
  const seconds = () => (performance.now() - started) / 1000;

  const userSignal = options.signal;
  let lease: PipelineLease | undefined;
  if (options.lease !== false) {
    try {
      lease = await PipelineLease.acquire({
        ...options.lease,
        metastore: engine.metastore,
        pipeline: definition.name,
        featureTable,
        runId,
        ...(userSignal ? { signal: userSignal } : {}),
      });
    } catch (error) {
      if (!userSignal?.aborted) throw error;
      const version = await currentVersion(engine, outputName);
      throw cancelled(
        definition.name,
        featureTable,
        version,
        version,
        userSignal,
        'while waiting for another run',
      );
    }
  }
  const signals = [userSignal, lease?.lost].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
  const versionAtStart = await currentVersion(engine, outputName);
  const committing = { started: false };
  // Interrupt the run's running query at once; a commit that has started is let finish.
  const interrupt = () => {
    if (!committing.started) engine.connection.interrupt();
  };
  signal?.addEventListener('abort', interrupt, { once: true });

  const decided: { mode?: 'full' | 'incremental' } = {};
  let computed: Computed;
  let attempts = 0;
  try {
    for (;;) {
      attempts++;
      try {
        computed = await compute({
          decided,
          engine,
          store,
          definition,
          config: options.config,
          outputName,
          projectDir: options.projectDir ?? engine.projectDir,
          full: options.full === true,
          runId,
          progress,
          checkpoint: () => signal?.throwIfAborted(),
          committing,
        });
        break;
      } catch (error) {
        // Another writer committed first (a run of the same pipeline, a merge, OPTIMIZE). Data and
        // watermark commit together, so starting over from the new version is always safe.
        if (!isLarderError(error, 'CONCURRENT_MODIFICATION') || attempts >= MAX_RUN_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    signal?.removeEventListener('abort', interrupt);
    const isCancel = signal?.aborted === true && !(lease?.lost.aborted && !userSignal?.aborted);
    const cause = error instanceof Error ? error : new Error(String(error));
    progress({ phase: 'metrics' });
    const duration = seconds();
    const row: ComputationMetricsRow = {
      run_id: runId,
      run_timestamp: startedAt,
      pipeline: definition.name,
      feature_table: featureTable,
      mode: decided.mode ?? (options.full || !definition.incremental ? 'full' : 'incremental'),
      num_entities_processed: 0,
      num_features_computed: 0,
      source_rows_read: 0,
      duration_seconds: duration,
      rows_per_second: 0,
      status: isCancel ? 'cancelled' : 'failed',
      error_message: isCancel ? 'cancelled' : cause.message,
      table_version: await currentVersion(engine, outputName),
    };
    let metricsNote = '';
    try {
      await recordComputationMetrics(engine, outputName, row);
    } catch (metricsError) {
      metricsNote = ` (and its metrics row could not be written: ${(metricsError as Error).message})`;
    }
    await lease?.release();
    progress({ phase: 'metrics', done: true });
    if (isCancel) {
      throw cancelled(
        definition.name,
        featureTable,
        versionAtStart,
        row.table_version,
        userSignal,
        '',
        metricsNote,
      );
    }
    throw new LarderError(
      'PIPELINE_FAILED',
      `pipeline "${definition.name}" failed: ${cause.message}${metricsNote}`,
      {
        pipeline: definition.name,
        table: featureTable,
        cause: error,
        ...(isLarderError(error) ? { causeCode: error.code } : {}),
      },
    );
  }

  signal?.removeEventListener('abort', interrupt);
  await lease?.release();
  progress({ phase: 'metrics' });
  const duration = seconds();
  const rowsPerSecond = duration > 0 ? computed.entities / duration : 0;
  let metricsTable = `${outputName.catalog}.${outputName.schema}.feature_computation_metrics`;
  let metricsError: string | undefined;
  try {
    metricsTable = await recordComputationMetrics(engine, outputName, {
      run_id: runId,
      run_timestamp: startedAt,
      pipeline: definition.name,
      feature_table: featureTable,
      mode: computed.mode,
      num_entities_processed: computed.entities,
      num_features_computed: computed.features,
      source_rows_read: computed.sourceRows,
      duration_seconds: duration,
      rows_per_second: rowsPerSecond,
      status: 'success',
      error_message: null,
      table_version: computed.tableVersion,
    });
  } catch (error) {
    metricsError = (error as Error).message;
  }
  progress({ phase: 'metrics', done: true });
  return {
    runId,
    pipeline: definition.name,
    featureTable,
    mode: computed.mode,
    ...(computed.reason !== undefined ? { reason: computed.reason } : {}),
    status: 'success',
    startedAt,
    tableVersion: computed.tableVersion,
    committed: computed.committed,
    created: computed.created,
    numEntitiesProcessed: computed.entities,
    numFeaturesComputed: computed.features,
    sourceRowsRead: computed.sourceRows,
    rowsWritten: computed.rowsWritten,
    rowsDeleted: computed.rowsDeleted,
    durationSeconds: duration,
    rowsPerSecond,
    watermarks: computed.watermarks,
    attempts,
    metricsTable,
    ...(metricsError !== undefined ? { metricsError } : {}),
  };
}

interface RunContext {
  readonly engine: Engine;
  readonly store: FeatureStore;
  readonly definition: PipelineDefinition;
  readonly config: LarderConfig;
  readonly outputName: TableName;
  readonly projectDir: string;
  readonly full: boolean;
  readonly runId: string;
  readonly progress: (progress: RunProgress) => void;
  /** Set once the run knows its mode (for the metrics row of a failure). */
  readonly decided: { mode?: 'full' | 'incremental' };
  /** Throws if the run was cancelled: called between steps. */
  readonly checkpoint: () => void;
  /** Set just before the commit: from then on a cancel lets the run finish. */
  readonly committing: { started: boolean };
}

/** What a run reads, computes and commits (everything but the metrics row). */
async function compute(context: RunContext): Promise<Computed> {
  const { engine, definition } = context;
  context.checkpoint();
  const scope = await RunScope.create(engine.connection);
  let sources: BoundSource[] = [];
  try {
    sources = await bindSources(engine, scope, context.projectDir, definition.sources);
    const columns = await describeBound(engine, definition, sources, 'full');
    context.checkpoint();
    const { entry, created } = await ensureOutputTable({
      featureStore: context.store,
      config: context.config,
      pipeline: definition.name,
      columns,
      projectDir: context.projectDir,
    });
    try {
      const snapshot = (await engine.resolveTable(context.outputName)).table.snapshot;
      const primaryKeys = tablePrimaryKeys(entry, definition, snapshot);
      const state = readPipelineState(snapshot, definition.name);
      const fingerprint = pipelineFingerprint(definition);
      const reason = fullRunReason(context, state, fingerprint, columns, snapshot);
      const run: Run = {
        ...context,
        scope,
        sources,
        entry,
        snapshot,
        primaryKeys,
        fingerprint,
        created,
      };
      if (reason === undefined && typeof definition.config.sql === 'function') {
        const incremental = await describeBound(engine, definition, sources, 'incremental');
        const names = (cs: readonly OutputColumn[]) => cs.map((c) => c.name.toLowerCase()).join(', ');
        if (names(incremental) !== names(columns)) {
          throw new LarderError(
            'SCHEMA_MISMATCH',
            `pipeline "${definition.name}" outputs (${names(columns)}) in full mode but (${names(incremental)}) in incremental mode`,
            {
              pipeline: definition.name,
              hint: 'both modes must give the same columns and the same rows per key',
            },
          );
        }
      }
      context.decided.mode = reason === undefined ? 'incremental' : 'full';
      context.checkpoint();
      if (reason !== undefined) {
        const result = await fullRun(run);
        return definition.incremental ? { ...result, reason } : result;
      }
      return await incrementalRun(run, state as PipelineState);
    } catch (error) {
      // A table this run created and could not fill is removed: a failed run leaves nothing behind.
      if (created) await context.store.dropTable(definition.output).catch(() => undefined);
      throw error;
    }
  } finally {
    for (const source of sources) await source.close();
    await scope.drop();
  }
}

interface Run extends RunContext {
  readonly scope: RunScope;
  readonly sources: readonly BoundSource[];
  readonly entry: TableEntry;
  /** The table version the run reads and commits against. */
  readonly snapshot: Snapshot;
  /** The table's primary keys, as its columns are named. */
  readonly primaryKeys: readonly string[];
  readonly fingerprint: string;
  readonly created: boolean;
}

/** Why this run must be full, or undefined when it can be incremental. */
function fullRunReason(
  context: RunContext,
  state: PipelineState | undefined,
  fingerprint: string,
  columns: readonly OutputColumn[],
  snapshot: Snapshot,
): string | undefined {
  const { definition } = context;
  if (!definition.incremental) return 'the pipeline is not incremental';
  if (context.full) return 'a full run was requested';
  if (!state) return 'no earlier run of this pipeline is recorded in the table';
  if (state.fingerprint !== fingerprint)
    return 'the pipeline (SQL, sources or keys) changed since the last run';
  for (const { source } of definition.tracked) {
    if (!(source in state.watermarks)) return `source "${source}" has no watermark yet`;
  }
  const tableColumns = new Set(snapshot.schema.fields.map((f) => f.name.toLowerCase()));
  const outputColumns = new Set(columns.map((c) => c.name.toLowerCase()));
  if (tableColumns.size !== outputColumns.size || [...outputColumns].some((c) => !tableColumns.has(c))) {
    return "the output's columns differ from the table's";
  }
  return undefined;
}

async function fullRun(run: Run): Promise<Computed> {
  const { engine, definition, scope, sources, progress } = run;
  const connection = engine.connection;
  progress({ phase: 'read', files: 0, filesTotal: undefined });
  const reads = new Map<string, SourceRead>();
  for (const source of sources) reads.set(source.name, await source.read());
  const relations = new Map([...reads].map(([name, read]) => [name, read.sql]));

  // Watermarks of the pinned sources, and the row counts statistics do not give, in one query.
  const probes: string[] = [];
  definition.tracked.forEach(({ source, changeColumn }, i) => {
    probes.push(`(SELECT max(${sqlIdent(changeColumn)})::VARCHAR FROM (${relations.get(source)})) AS w${i}`);
  });
  sources.forEach((source, i) => {
    if (reads.get(source.name)?.rows === undefined) {
      probes.push(`(SELECT count(*) FROM (${relations.get(source.name)})) AS n${i}`);
    }
  });
  const probed =
    probes.length > 0
      ? ((await queryJson(connection, `SELECT ${probes.join(', ')}`, 'reading the sources'))[0] ?? {})
      : {};
  const watermarks: Record<string, string | null> = {};
  definition.tracked.forEach(({ source }, i) => {
    const value = probed[`w${i}`];
    watermarks[source] = value === null || value === undefined ? null : String(value);
  });
  let sourceRows = 0;
  sources.forEach((source, i) => {
    sourceRows += reads.get(source.name)?.rows ?? Number(probed[`n${i}`] ?? 0);
  });
  progress({ phase: 'read', rows: sourceRows, ...fileCounts(reads), done: true });

  run.checkpoint();
  progress({ phase: 'compute' });
  const out = scope.table('output');
  await runStep(
    connection,
    `CREATE TABLE ${out} AS ${pipelineQuery(pipelineSql(definition, 'full'), relations, definition.name)}`,
    definition,
  );
  const checked = await checkOutput(run, out);
  progress({ phase: 'compute', rows: checked.rows, done: true });
  run.checkpoint();

  progress({ phase: 'write', rows: checked.rows });
  const state: PipelineState = { watermarks, runId: run.runId, mode: 'full', fingerprint: run.fingerprint };
  assertKeptTypes(run, checked);
  startCommit(run);
  // The table takes the output's columns: new ones are added, those the SQL no longer outputs dropped.
  const { table, metrics } = await writeTable(run.snapshot, `SELECT * FROM ${out}`, {
    mode: 'overwrite',
    overwriteSchema: true,
    domainMetadata: [pipelineStateMetadata(definition.name, state)],
    userMetadata: `larder pipeline ${definition.name} run ${run.runId} (full)`,
  });
  if (serializeSchema(table.schema) !== serializeSchema(run.snapshot.schema))
    await recordFeatures(run, table);
  const written = (metrics as WriteMetrics).numOutputRows;
  progress({ phase: 'write', rows: written, done: true });
  return {
    mode: 'full',
    created: run.created,
    tableVersion: table.version,
    committed: true,
    entities: checked.entities,
    features: checked.features,
    sourceRows,
    rowsWritten: written,
    rowsDeleted: 0,
    watermarks,
  };
}

async function incrementalRun(run: Run, state: PipelineState): Promise<Computed> {
  const { engine, definition, scope, sources, progress } = run;
  const connection = engine.connection;
  const keys = definition.entityKeys;
  const byName = new Map(sources.map((s) => [s.name, s]));
  progress({ phase: 'read', files: 0 });

  // Changed rows of each tracked source: their keys, count and greatest change value.
  const reads = new Map<string, SourceRead>();
  let sourceRows = 0;
  const watermarks: Record<string, string | null> = { ...state.watermarks };
  const changedTables: string[] = [];
  for (const [i, { source, changeColumn }] of definition.tracked.entries()) {
    const bound = byName.get(source)!;
    const read = await bound.read({
      changedAfter: { column: changeColumn, value: state.watermarks[source] ?? null },
    });
    reads.set(`changed:${source}`, read);
    const changed = scope.table(`changed_${i}`);
    await runStep(
      connection,
      `CREATE TABLE ${changed} AS SELECT ${keys.map(sqlIdent).join(', ')}, count(*) AS __n, max(${sqlIdent(changeColumn)}) AS __m
         FROM (${read.sql}) AS __larder_c GROUP BY ALL`,
      definition,
      `reading the changed rows of source "${source}"`,
    );
    const [summary] = await queryJson(
      connection,
      `SELECT sum(__n) AS n, max(__m)::VARCHAR AS m FROM ${changed}`,
    );
    sourceRows += Number(summary?.n ?? 0);
    if (summary?.m !== null && summary?.m !== undefined) watermarks[source] = String(summary.m);
    changedTables.push(changed);
  }

  // The affected keys.
  const keyTable = scope.table('keys');
  const notNull = keys.map((k) => `${sqlIdent(k)} IS NOT NULL`).join(' AND ');
  await run_(
    connection,
    `CREATE TABLE ${keyTable} AS ${changedTables
      .map((t) => `SELECT ${keys.map(sqlIdent).join(', ')} FROM ${t} WHERE ${notNull}`)
      .join(' UNION ')}`,
  );
  const keyCount = Number((await queryJson(connection, `SELECT count(*) AS n FROM ${keyTable}`))[0]?.n ?? 0);
  if (keyCount === 0) {
    progress({ phase: 'read', rows: sourceRows, ...fileCounts(reads), done: true });
    progress({ phase: 'compute', rows: 0, done: true });
    progress({ phase: 'write', rows: 0, done: true });
    return {
      mode: 'incremental',
      created: run.created,
      tableVersion: run.snapshot.version,
      committed: false,
      entities: 0,
      features: run.snapshot.schema.fields.length - run.primaryKeys.length,
      sourceRows,
      rowsWritten: 0,
      rowsDeleted: 0,
      watermarks: state.watermarks,
    };
  }
  let keyValues: Promise<string[][]> | undefined;
  const keyFilter: KeyFilter = {
    table: keyTable,
    columns: keys,
    count: keyCount,
    values: () => {
      keyValues ??= (async () => {
        const reader = await runSql(
          connection,
          `SELECT ${keys.map((k) => `${sqlIdent(k)}::VARCHAR`).join(', ')} FROM ${keyTable}`,
          'reading the affected keys',
        );
        return reader.getRowsJson().map((row) => row.map((v) => String(v)));
      })();
      return keyValues;
    },
  };

  // Every source, restricted to the affected keys when it has the key columns.
  const relations = new Map<string, string>();
  for (const [i, source] of sources.entries()) {
    const names = new Set(source.columns.map((c) => c.name.toLowerCase()));
    if (keys.every((k) => names.has(k.toLowerCase()))) {
      const read = await source.read({ keys: keyFilter });
      reads.set(source.name, read);
      const table = scope.table(`source_${i}`);
      await runStep(
        connection,
        `CREATE TABLE ${table} AS ${read.sql}`,
        definition,
        `reading source "${source.name}"`,
      );
      sourceRows += Number((await queryJson(connection, `SELECT count(*) AS n FROM ${table}`))[0]?.n ?? 0);
      relations.set(source.name, `SELECT * FROM ${table}`);
    } else {
      const read = await source.read();
      reads.set(source.name, read);
      sourceRows +=
        read.rows ??
        Number((await queryJson(connection, `SELECT count(*) AS n FROM (${read.sql})`))[0]?.n ?? 0);
      relations.set(source.name, read.sql);
    }
  }
  progress({ phase: 'read', rows: sourceRows, ...fileCounts(reads), done: true });

  run.checkpoint();
  progress({ phase: 'compute' });
  const out = scope.table('output');
  const query = pipelineQuery(pipelineSql(definition, 'incremental'), relations, definition.name);
  await runStep(
    connection,
    `CREATE TABLE ${out} AS ${keySemiJoin(query, { table: keyTable, columns: keys })}`,
    definition,
  );
  const checked = await checkOutput(run, out);
  progress({ phase: 'compute', rows: checked.rows, done: true });
  run.checkpoint();

  // Tombstones: the affected entities' rows of the table that the new output lacks.
  progress({ phase: 'write', rows: checked.rows });
  const snapshot = run.snapshot;
  const pks = run.primaryKeys;
  const files = filesForKeys(
    snapshot,
    await readKeyBounds(
      connection,
      `SELECT * FROM ${keyTable}`,
      keys.map((name) => ({ name })),
    ),
  );
  const scan = await planScan(snapshot, { files, columns: pks });
  const tombstones = scope.table('tombstones');
  const onKeys = (a: string, b: string, columns: readonly string[]) =>
    columns.map((c) => `${a}.${sqlIdent(c)} = ${b}.${sqlIdent(c)}`).join(' AND ');
  await run_(
    connection,
    `CREATE TABLE ${tombstones} AS SELECT __t.* FROM (${keySemiJoin(scan.sql, { table: keyTable, columns: keys })}) AS __t
       ANTI JOIN ${out} AS __o ON ${onKeys('__t', '__o', pks)}`,
  );

  const fieldsByName = new Map(snapshot.schema.fields.map((f) => [f.name.toLowerCase(), f.name]));
  const assignments: Record<string, string> = {};
  for (const column of checked.columns) {
    const target = fieldsByName.get(column.toLowerCase());
    if (target !== undefined) assignments[target] = `s.${sqlIdent(column)}`;
  }
  const newState: PipelineState = {
    watermarks,
    runId: run.runId,
    mode: 'incremental',
    fingerprint: run.fingerprint,
  };
  startCommit(run);
  const { table, metrics } = await mergeTable(snapshot, {
    source: `SELECT *, false AS ${TOMBSTONE} FROM ${out} UNION ALL BY NAME SELECT *, true AS ${TOMBSTONE} FROM ${tombstones}`,
    on: pks,
    whenMatched: [
      { action: 'delete', condition: `s.${TOMBSTONE}` },
      { action: 'update', set: assignments },
    ],
    whenNotMatched: [{ action: 'insert', condition: `NOT s.${TOMBSTONE}`, values: assignments }],
    domainMetadata: [pipelineStateMetadata(definition.name, newState)],
    userMetadata: `larder pipeline ${definition.name} run ${run.runId} (incremental)`,
  });
  const m = metrics as MergeMetrics;
  progress({ phase: 'write', rows: m.numTargetRowsInserted + m.numTargetRowsUpdated, done: true });
  return {
    mode: 'incremental',
    created: run.created,
    tableVersion: table.version,
    committed: table.version !== snapshot.version,
    entities: keyCount,
    features: checked.features,
    sourceRows,
    rowsWritten: m.numTargetRowsInserted + m.numTargetRowsUpdated,
    rowsDeleted: m.numTargetRowsDeleted,
    watermarks,
  };
}

/** The last point a cancel stops the run at: from here on it commits. */
function startCommit(run: Run): void {
  run.checkpoint();
  run.committing.started = true;
}

/** The `CANCELLED` error of a run, saying truthfully what became of the table. */
function cancelled(
  pipeline: string,
  table: string,
  before: number | null,
  after: number | null,
  signal: AbortSignal | undefined,
  when: string,
  note = '',
): LarderError {
  const state =
    after === null
      ? `table ${table} was not created`
      : before === after
        ? `table ${table} unchanged at version ${after}`
        : `table ${table} is at version ${after}: its commit landed before the cancel`;
  return new LarderError(
    'CANCELLED',
    `${state} (run of pipeline "${pipeline}" cancelled${when ? ` ${when}` : ''})${note}`,
    {
      pipeline,
      table,
      ...(after !== null ? { version: after } : {}),
      ...(typeof signal?.reason === 'string' ? { signal: signal.reason } : {}),
    },
  );
}

interface CheckedOutput {
  readonly columns: readonly string[];
  /** The DuckDB types of `columns`. */
  readonly types: readonly string[];
  readonly rows: number;
  readonly entities: number;
  readonly features: number;
}

/**
 * Check the computed output before it is written: every primary key is a
 * column, no key is null, no two rows share a key. Returns its size.
 */
async function checkOutput(run: Run, out: string): Promise<CheckedOutput> {
  const { engine, definition } = run;
  const table = run.entry.fullName;
  const described = await queryJson(engine.connection, `DESCRIBE ${out}`);
  const columns = described.map((r) => String(r.column_name));
  const lower = new Map(columns.map((c) => [c.toLowerCase(), c]));
  for (const key of run.primaryKeys) {
    if (!lower.has(key.toLowerCase())) {
      throw new LarderError(
        'SCHEMA_MISMATCH',
        `the output of pipeline "${definition.name}" has no column "${key}", a primary key of ${table}`,
        { table, column: key, pipeline: definition.name, hint: 'select the key column in the pipeline SQL' },
      );
    }
  }
  const pks = run.primaryKeys.map((k) => sqlIdent(lower.get(k.toLowerCase())!));
  const entityKeys = definition.entityKeys.map((k) => sqlIdent(lower.get(k.toLowerCase()) ?? k));
  const sameAsKeys = entityKeys.length === pks.length;
  const [stats] = await queryJson(
    engine.connection,
    `SELECT count(*) AS n, ${sameAsKeys ? 'count(*)' : `count(DISTINCT (${entityKeys.join(', ')}))`} AS e,
            ${run.primaryKeys.map((_, i) => `count(*) FILTER (WHERE ${pks[i]} IS NULL) AS null${i}`).join(', ')}
       FROM ${out}`,
  );
  run.primaryKeys.forEach((key, i) => {
    const nulls = Number(stats?.[`null${i}`] ?? 0);
    if (nulls > 0) {
      throw new LarderError(
        'CONSTRAINT_VIOLATION',
        `pipeline "${definition.name}" computed ${nulls} row(s) with a null "${key}", a primary key of ${table}`,
        {
          table,
          column: key,
          pipeline: definition.name,
          hint: 'filter out rows without a key, or coalesce it',
        },
      );
    }
  });
  const duplicate = await queryJson(
    engine.connection,
    `SELECT ${pks.map((k, i) => `${k}::VARCHAR AS k${i}`).join(', ')}, n
       FROM (SELECT ${pks.join(', ')}, count(*) AS n FROM ${out} GROUP BY ALL HAVING count(*) > 1 LIMIT 1)`,
  );
  if (duplicate.length > 0) {
    const sample = run.primaryKeys.map((k, i) => `${k}=${String(duplicate[0]![`k${i}`])}`).join(', ');
    throw new LarderError(
      'DUPLICATE_KEY',
      `pipeline "${definition.name}" computed ${String(duplicate[0]!.n)} rows with the same primary key of ${table} (${sample})`,
      { table, pipeline: definition.name, hint: 'aggregate the SQL to one row per key: GROUP BY the keys' },
    );
  }
  const keySet = new Set(run.primaryKeys.map((k) => k.toLowerCase()));
  return {
    columns,
    types: described.map((r) => String(r.column_type)),
    rows: Number(stats?.n ?? 0),
    entities: Number(stats?.e ?? 0),
    features: columns.filter((c) => !keySet.has(c.toLowerCase())).length,
  };
}

/**
 * A full run replaces the table's columns with the output's, but does not
 * change a column's type behind the user's back (`larder plan` reports it as
 * a type clash): an output column the table has must convert safely to the
 * table column's type.
 */
function assertKeptTypes(run: Run, checked: CheckedOutput): void {
  const table = run.entry.fullName;
  checked.columns.forEach((column, i) => {
    const field = run.snapshot.schema.fields.find((f) => f.name.toLowerCase() === column.toLowerCase());
    const duckType = checked.types[i]!;
    if (!field || canWrite(fromDuckDBType(duckType, column), field.type)) return;
    throw new LarderError(
      'SCHEMA_MISMATCH',
      `pipeline "${run.definition.name}" outputs column "${column}" as ${duckType}, but it is ${deltaTypeName(field.type)} in ${table}`,
      {
        table,
        column,
        pipeline: run.definition.name,
        hint: `cast it in the SQL with ::${toDuckDBType(field.type)}, or drop and recreate the table`,
      },
    );
  });
}

/** The table's primary keys (the catalog's, as the Delta schema names them), checked against the config. */
function tablePrimaryKeys(entry: TableEntry, definition: PipelineDefinition, snapshot: Snapshot): string[] {
  const registered = entry.feature?.primaryKeys ?? definition.primaryKeys;
  const same =
    registered.length === definition.primaryKeys.length &&
    registered.every((k, i) => k.toLowerCase() === definition.primaryKeys[i]!.toLowerCase());
  if (!same) {
    throw new LarderError(
      'SCHEMA_MISMATCH',
      `${entry.fullName} has primary keys (${registered.join(', ')}) but the config declares (${definition.primaryKeys.join(', ')})`,
      {
        table: entry.fullName,
        field: 'primaryKeys',
        hint: 'run `larder plan` to see the difference; drop the table or use a new name',
      },
    );
  }
  return registered.map((key) => {
    const field = snapshot.schema.fields.find((f) => f.name.toLowerCase() === key.toLowerCase());
    if (!field) {
      throw new LarderError('SCHEMA_MISMATCH', `primary key "${key}" is not a column of ${entry.fullName}`, {
        table: entry.fullName,
        column: key,
      });
    }
    return field.name;
  });
}

/** Keep the catalog's feature columns in step with the table's schema. */
async function recordFeatures(run: Run, snapshot: Snapshot): Promise<void> {
  const feature = run.entry.feature;
  if (!feature) return;
  const features = featureColumns(snapshot.schema, feature.primaryKeys, feature.features);
  await run.engine.metastore.updateTable(run.entry.name, { feature: { ...feature, features } });
}

function fileCounts(reads: ReadonlyMap<string, SourceRead>): { files?: number; filesTotal?: number } {
  let files = 0;
  let filesTotal = 0;
  let any = false;
  for (const read of reads.values()) {
    if (read.files !== undefined) {
      any = true;
      files += read.files;
      filesTotal += read.filesTotal ?? read.files;
    }
  }
  return any ? { files, filesTotal } : {};
}

/** Run a step of the pipeline's own SQL: a DuckDB error names the pipeline. */
async function runStep(
  connection: Engine['connection'],
  sql: string,
  definition: PipelineDefinition,
  what = 'computing the output',
): Promise<void> {
  try {
    await connection.run(sql);
  } catch (error) {
    throw new LarderError(
      'SQL_ERROR',
      `pipeline "${definition.name}": ${what} failed: ${(error as Error).message}`,
      {
        pipeline: definition.name,
        cause: error,
      },
    );
  }
}

async function run_(connection: Engine['connection'], sql: string): Promise<void> {
  await runSql(connection, sql, 'pipeline run step');
}

async function currentVersion(engine: Engine, name: TableName): Promise<number | null> {
  try {
    return (await engine.resolveTable(name)).table.version;
  } catch {
    return null;
  }
}

async function featureStoreOf(engine: Engine | undefined): Promise<FeatureStore> {
  if (!engine) throw new LarderError('INVALID_ARGUMENT', 'runPipeline needs an engine or a featureStore');
  return FeatureStore.open({ engine });
}
