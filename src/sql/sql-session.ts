/**
 * A Larder SQL session: an engine (one DuckDB connection and the project's
 * metastore) in a project folder, plus the session's settings, running
 * scripts of Larder SQL statement by statement. A script is parsed whole
 * first (`statements/parse-statement.ts`); then each statement runs: the
 * Delta and Spark statements (`CREATE TABLE … USING DELTA`, `MERGE INTO`,
 * `OPTIMIZE`, `VACUUM`, `SET key = value`, …) by Larder's executors, and
 * everything else as DuckDB SQL with Larder's name rewriting (three-level
 * table names, views, time travel, `read_delta`, `table_changes`).
 *
 * Invariants: the project folder `.larder/` (with `warehouse/`) exists once
 * a session is open; a syntax error or an unsupported construct anywhere in
 * a script fails it before any statement runs; statements run in order and
 * the first failure stops the script (earlier statements keep their
 * effects, as in any SQL shell); session state (SET, USE, temporary tables
 * and views) lives as long as the session.
 */
import { join, resolve } from 'node:path';
import type { TableName } from '../catalog/metastore.js';
import { Engine, LARDER_DIR } from '../engine/engine.js';
import type { SqlResult } from '../engine/sql-result.js';
import { LarderError } from '../errors.js';
import { executeStatement } from './statements/execute-statement.js';
import { parseScript } from './statements/parse-statement.js';
import { SessionSettings } from './statements/session-settings.js';

/** The project data folder, relative to the project root. */
export const PROJECT_DIR = LARDER_DIR;

export interface SqlSessionOptions {
  /** The project root: relative table paths resolve against it and `.larder/` is created in it. */
  readonly cwd: string;
  /**
   * Run on this engine (its catalog) instead of opening one on `cwd`; the
   * caller keeps it and closes it (the session's `close` leaves it open).
   */
  readonly engine?: Engine;
}

/**
 * @example
 * const session = await SqlSession.open({ cwd: process.cwd() });
 * try {
 *   await session.execute('CREATE TABLE ml.s.events (id BIGINT, day DATE) USING DELTA PARTITIONED BY (day)');
 *   const result = await session.execute('SELECT count(*) AS n FROM ml.s.events');
 *   console.log(result.rows[0]?.[0]);
 * } finally {
 *   await session.close();
 * }
 */
export class SqlSession {
  /** Absolute path of the project root. */
  readonly cwd: string;
  /** Absolute path of the project data folder (`<cwd>/.larder`). */
  readonly projectDir: string;
  /** The engine statements run on. */
  readonly engine: Engine;
  /** The session's `SET` values. */
  readonly settings = new SessionSettings();
  readonly #temporaryViews = new Map<string, TableName>();
  readonly #ownsEngine: boolean;
  #closed = false;

  private constructor(cwd: string, engine: Engine, ownsEngine: boolean) {
    this.cwd = cwd;
    this.projectDir = join(cwd, PROJECT_DIR);
    this.engine = engine;
    this.#ownsEngine = ownsEngine;
  }

  /** Open a session in `cwd`, creating `.larder/warehouse/` (and the catalog) there on first use. */
  static async open(options: SqlSessionOptions): Promise<SqlSession> {
    const cwd = resolve(options.cwd);
    if (options.engine) return new SqlSession(cwd, options.engine, false);
    return new SqlSession(cwd, await Engine.open({ projectDir: cwd }), true);
  }

  /** Run a script and return the result of its last statement. */
  async execute(sql: string): Promise<SqlResult> {
    const results = await this.executeAll(sql);
    const last = results.at(-1);
    if (!last)
      throw new LarderError('INVALID_ARGUMENT', 'no SQL statement to run', { hint: 'pass a statement' });
    return last;
  }

  /** Run a script and return one result per statement, in order. */
  async executeAll(sql: string): Promise<SqlResult[]> {
    if (this.#closed) throw new LarderError('INVALID_ARGUMENT', 'the SQL session is closed');
    const statements = parseScript(sql);
    const context = {
      engine: this.engine,
      settings: this.settings,
      cwd: this.cwd,
      temporaryViews: this.#temporaryViews,
    };
    const results: SqlResult[] = [];
    for (const statement of statements) results.push(await executeStatement(statement, context));
    return results;
  }

  /** Drop the session's temporary views and close its engine (its connection and catalog) unless it was given one. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      for (const view of this.#temporaryViews.values()) {
        await this.engine.metastore.dropView(view).catch(() => undefined);
      }
    } finally {
      if (this.#ownsEngine) await this.engine.close();
    }
  }
}
