/**
 * `SET key = value`, `SET key`, `SET` and `RESET [key]`: the settings of a
 * Larder SQL session. Spark and Delta settings (dotted names such as
 * `spark.sql.shuffle.partitions`) live in the session:
 * - those Larder uses change its behaviour: `spark.databricks.delta.
 *   optimizeWrite.enabled` and `….autoCompact.enabled` are passed to writes,
 *   `….retentionDurationCheck.enabled` to VACUUM;
 * - those with a DuckDB meaning are applied to DuckDB (`spark.driver.cores`,
 *   `larder.threads` → `threads`; `spark.driver.memory`,
 *   `spark.executor.memory`, `larder.memory` → `memory_limit`);
 * - the others (shuffle partitions, adaptive execution, …) are acknowledged
 *   with a note saying they have no effect here.
 * Names without a dot are DuckDB's own settings (`SET threads = 2`) and go
 * to DuckDB unchanged.
 *
 * Invariant: a value Larder uses is validated before it is stored, so a bad
 * `SET` changes nothing.
 */
import { sqlString } from '../../duckdb/duckdb.js';
import type { SqlResult } from '../../engine/sql-result.js';
import { LarderError } from '../../errors.js';
import type { ResetStatement, SetStatement } from './statement.js';
import { emptyResult, result } from './statement-result.js';

/** Runs DuckDB SQL for the settings that map to DuckDB's. */
export type RunSql = (sql: string) => Promise<SqlResult>;

interface KnownSetting {
  readonly key: string;
  /** The value `SET key` shows before any `SET key = …`; undefined when read from DuckDB. */
  readonly defaultValue?: string;
  readonly note: string;
  readonly boolean?: boolean;
  /** The DuckDB setting it maps to, and how a Spark value converts. */
  readonly duckdb?: { readonly name: string; readonly convert: (value: string, key: string) => string };
}

const NO_EFFECT_PLANNER = 'no effect in Larder: DuckDB plans parallelism and joins itself (see SET threads)';

const KNOWN: readonly KnownSetting[] = [
  { key: 'spark.sql.shuffle.partitions', defaultValue: '200', note: NO_EFFECT_PLANNER },
  { key: 'spark.sql.adaptive.enabled', defaultValue: 'true', note: NO_EFFECT_PLANNER, boolean: true },
  {
    key: 'spark.sql.adaptive.coalescePartitions.enabled',
    defaultValue: 'true',
    note: NO_EFFECT_PLANNER,
    boolean: true,
  },
  {
    key: 'spark.sql.adaptive.skewJoin.enabled',
    defaultValue: 'true',
    note: NO_EFFECT_PLANNER,
    boolean: true,
  },
  { key: 'spark.sql.autoBroadcastJoinThreshold', defaultValue: '10485760', note: NO_EFFECT_PLANNER },
  {
    key: 'spark.databricks.delta.optimizeWrite.enabled',
    defaultValue: 'false',
    boolean: true,
    note: 'used by Larder: writes in this session produce files of the target size (optimized writes)',
  },
  {
    key: 'spark.databricks.delta.autoCompact.enabled',
    defaultValue: 'false',
    boolean: true,
    note: 'used by Larder: writes in this session compact small files after they commit',
  },
  {
    key: 'spark.databricks.delta.retentionDurationCheck.enabled',
    defaultValue: 'true',
    boolean: true,
    note: 'used by Larder: while true, VACUUM refuses a retention under 168 hours',
  },
  {
    key: 'spark.sql.session.timeZone',
    defaultValue: 'UTC',
    note: 'no effect in Larder: sessions compute in UTC',
  },
  {
    key: 'spark.driver.cores',
    note: 'applied as DuckDB threads',
    duckdb: { name: 'threads', convert: integerValue },
  },
  {
    key: 'larder.threads',
    note: 'applied as DuckDB threads',
    duckdb: { name: 'threads', convert: integerValue },
  },
  {
    key: 'spark.driver.memory',
    note: 'applied as DuckDB memory_limit',
    duckdb: { name: 'memory_limit', convert: memoryValue },
  },
  {
    key: 'spark.executor.memory',
    note: 'applied as DuckDB memory_limit',
    duckdb: { name: 'memory_limit', convert: memoryValue },
  },
  {
    key: 'larder.memory',
    note: 'applied as DuckDB memory_limit',
    duckdb: { name: 'memory_limit', convert: memoryValue },
  },
];

const KNOWN_BY_KEY = new Map(KNOWN.map((s) => [s.key.toLowerCase(), s]));

const UNKNOWN_NOTE = 'no effect in Larder: stored for this session only';

function integerValue(value: string, key: string): string {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new LarderError('INVALID_ARGUMENT', `${key} must be a positive whole number, not "${value}"`, {
      setting: key,
    });
  }
  return value;
}

/** Spark memory sizes (`4g`, `512m`, `2048k`, `1t`, plain bytes) as DuckDB sizes. */
function memoryValue(value: string, key: string): string {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i.exec(value.trim());
  if (!match) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `${key} must be a memory size such as 4g or 512m, not "${value}"`,
      {
        setting: key,
      },
    );
  }
  const unit = match[2]!.toUpperCase();
  return unit === '' ? `${match[1]}B` : `${match[1]}${unit}B`;
}

function booleanValue(value: string, key: string): string {
  const lower = value.toLowerCase();
  if (lower !== 'true' && lower !== 'false') {
    throw new LarderError('INVALID_ARGUMENT', `${key} must be true or false, not "${value}"`, {
      setting: key,
    });
  }
  return lower;
}

const SET_COLUMNS = [
  ['key', 'VARCHAR'],
  ['value', 'VARCHAR'],
  ['note', 'VARCHAR'],
] as const;

/**
 * @example
 * const settings = new SessionSettings();
 * await settings.execute({ kind: 'set', text: '', tokens: [], key: 'spark.sql.shuffle.partitions', value: '64' }, run);
 * settings.writeFlags; // {} until optimizeWrite/autoCompact are set
 */
export class SessionSettings {
  readonly #values = new Map<string, { readonly key: string; readonly value: string }>();

  /** The value set in this session (undefined when never set). */
  get(key: string): string | undefined {
    return this.#values.get(key.toLowerCase())?.value;
  }

  /** Options for writes: `optimizeWrite` and `autoCompact`, when the session set them. */
  get writeFlags(): { optimizeWrite?: boolean; autoCompact?: boolean } {
    const optimizeWrite = this.get('spark.databricks.delta.optimizeWrite.enabled');
    const autoCompact = this.get('spark.databricks.delta.autoCompact.enabled');
    return {
      ...(optimizeWrite !== undefined ? { optimizeWrite: optimizeWrite === 'true' } : {}),
      ...(autoCompact !== undefined ? { autoCompact: autoCompact === 'true' } : {}),
    };
  }

  /** Whether VACUUM enforces the minimum retention (true unless the session turned the check off). */
  get retentionDurationCheck(): boolean {
    return this.get('spark.databricks.delta.retentionDurationCheck.enabled') !== 'false';
  }

  /** Run a SET or RESET statement; `run` executes DuckDB SQL. */
  async execute(statement: SetStatement | ResetStatement, run: RunSql): Promise<SqlResult> {
    if (statement.kind === 'reset') return this.#reset(statement, run);
    const { key, value } = statement;
    if (key === undefined) return this.#list();
    if (!key.includes('.')) {
      // DuckDB's own settings.
      if (value !== undefined) {
        await run(statement.text);
        return result('SET', SET_COLUMNS, [[key, value, 'applied to DuckDB']]);
      }
      const shown = await run(`SELECT current_setting(${sqlString(key)})::VARCHAR AS value`);
      return result('SET', SET_COLUMNS, [[key, shown.rows[0]?.[0] ?? null, 'DuckDB setting']]);
    }
    const known = KNOWN_BY_KEY.get(key.toLowerCase());
    const name = known?.key ?? key;
    if (value === undefined) return this.#show(name, known, run);
    let stored = value;
    if (known?.boolean) stored = booleanValue(value, name);
    if (known?.duckdb) {
      const duckValue = known.duckdb.convert(value, name);
      await run(`SET ${known.duckdb.name} = ${sqlString(duckValue)}`);
    }
    this.#values.set(name.toLowerCase(), { key: name, value: stored });
    return result('SET', SET_COLUMNS, [[name, stored, known?.note ?? UNKNOWN_NOTE]]);
  }

  async #show(key: string, known: KnownSetting | undefined, run: RunSql): Promise<SqlResult> {
    const set = this.get(key);
    let value = set ?? known?.defaultValue ?? null;
    if (set === undefined && known?.duckdb) {
      const shown = await run(`SELECT current_setting(${sqlString(known.duckdb.name)})::VARCHAR AS value`);
      value = (shown.rows[0]?.[0] as string | undefined) ?? null;
    }
    const note = known?.note ?? (set === undefined ? 'not set in this session' : UNKNOWN_NOTE);
    return result('SET', SET_COLUMNS, [[key, value, note]]);
  }

  #list(): SqlResult {
    const rows = [...this.#values.values()]
      .sort((a, b) => a.key.localeCompare(b.key))
      .map(({ key, value }) => [key, value, KNOWN_BY_KEY.get(key.toLowerCase())?.note ?? UNKNOWN_NOTE]);
    return result('SET', SET_COLUMNS, rows);
  }

  async #reset(statement: ResetStatement, run: RunSql): Promise<SqlResult> {
    const keys = statement.key === undefined ? [...this.#values.keys()] : [statement.key.toLowerCase()];
    if (statement.key !== undefined && !statement.key.includes('.')) {
      await run(statement.text);
      return emptyResult('RESET');
    }
    const duckdbSettings = new Set<string>();
    for (const key of keys) {
      const known = KNOWN_BY_KEY.get(key);
      if (known?.duckdb && this.#values.has(key)) duckdbSettings.add(known.duckdb.name);
      this.#values.delete(key);
    }
    for (const name of duckdbSettings) await run(`RESET ${name}`);
    return emptyResult('RESET');
  }
}
