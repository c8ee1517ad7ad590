/**
 * Larder SQL → DuckDB SQL, one statement at a time. DuckDB has no Delta
 * reader of ours and no catalog of ours inside it, so before a statement runs
 * we find, with DuckDB's own parser (`json_serialize_sql`, which locates
 * every table reference in the text), each reference Larder must answer and
 * replace its text with a subquery:
 *
 * - a name of a registered table (`ml.s.t`, `s.t`, `t`): a scan of the
 *   table's snapshot, pruned by the WHERE clause of the query block reading
 *   it (`prune-filter.ts`); with a time-travel clause (`temporal-spec.ts`),
 *   of that version's snapshot;
 * - a name of a registered view: the view's query, rewritten the same way
 *   (recursively, refusing cycles);
 * - a system relation (`system-tables.ts`);
 * - `read_delta(path, …)` and `table_changes('name', start, end)`
 *   (`table-functions.ts`).
 *
 * Other names are left to DuckDB (its own tables, CTEs, files). Spark
 * spellings DuckDB lacks are translated first (`spark-dialect.ts`). The
 * statement comes tokenized (`sql-tokenizer.ts`) and each stage hands the
 * next its tokens; the replacements found are spliced into the text by
 * `text-splice.ts`.
 *
 * Invariants:
 * - one snapshot per table per statement: every reference to a table (and
 *   every view's reference to it) reads the same version, taken once;
 * - only real references are rewritten: strings, comments, column names and
 *   CTE names that look like tables are left alone;
 * - a replaced reference keeps its alias, or is named after the table (or
 *   `read_delta`, `table_changes`), so qualified column references work;
 * - a time-travel clause on anything but a Delta table is an error, never
 *   silently ignored.
 *
 * Expressions Larder evaluates itself (the conditions and values of the
 * MERGE, UPDATE and DELETE it runs as Delta operations) are rewritten the
 * same way (`rewriteExpression`), with the snapshots of their statement.
 *
 * `json_serialize_sql` only serializes SELECT statements; for the others
 * (CREATE TABLE … AS, INSERT … SELECT, COPY (…) TO, EXPLAIN, …) the queries
 * embedded in them are parsed on their own, and references found in no query
 * that parses are still rewritten, without pruning, when they stand where a
 * table goes (after FROM, JOIN, USING, …; never the target of a DELETE).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { commitTiming } from '../delta/log/commit-timestamps.js';
import { commitTimestamps, listLog } from '../delta/log/replay.js';
import type { Snapshot } from '../delta/log/snapshot.js';
import { planChanges } from '../delta/operations/change-data-feed.js';
import { planScan } from '../delta/scan/scan.js';
import type { LogStore } from '../delta/storage/log-store.js';
import { sharedConnection, sqlIdent } from '../duckdb/duckdb.js';
import { isLarderError, LarderError } from '../errors.js';
import { type PruneContext, predicateText, pruneContexts, pruningPredicate } from './prune-filter.js';
import type { ScanInfo } from './scan-info.js';
import { sparkToDuckDb } from './spark-dialect.js';
import {
  type AstNode,
  byteToCharIndex,
  isObject,
  type ParseResult,
  parseSelect,
  UNKNOWN_LOCATION,
} from './sql-ast.js';
import { SqlTokenBuilder } from './sql-token-builder.js';
import {
  isSignificant,
  parenthesizedEnd,
  type SqlToken,
  splitTokenized,
  type TokenizedSql,
  tokenize,
  tokenizeSql,
} from './sql-tokenizer.js';
import {
  type ChangeBound,
  findCalls,
  isFunctionName,
  quoteReadDeltaTimestamp,
  READ_DELTA,
  readDeltaArguments,
  TABLE_CHANGES,
  tableChangesArguments,
  tableFunctionName,
} from './table-functions.js';
import type { NameDefaults } from './table-name.js';
import { extractTemporalSpecs, findAtClause, type TemporalSpec } from './temporal-spec.js';
import { applyReplacements, mergeReplacements, type Replacement } from './text-splice.js';

/** Which snapshot of a table to read. */
export type SnapshotChoice = { readonly version: number } | { readonly timestamp: number };

/** A Delta table a statement reads: a registered table, or a folder named by `read_delta`. */
export interface DeltaSource {
  readonly kind: 'table';
  /** The registered table's full name; undefined for a folder. */
  readonly fullName: string | undefined;
  /** The path as `read_delta` wrote it, or the registered table's location. */
  readonly path: string;
  /** Identity of the table for sharing one snapshot across a statement. */
  readonly key: string;
  readonly store: LogStore;
  /** The latest snapshot. */
  latest(): Promise<Snapshot>;
  /** The snapshot of a version, or the latest at or before a time (ms). */
  at(choice: SnapshotChoice): Promise<Snapshot>;
}

/** A registered view: its Larder SQL and the catalog and schema its names resolve in. */
export interface ViewSource {
  readonly kind: 'view';
  readonly fullName: string;
  readonly sql: string;
  readonly defaults: NameDefaults;
}

/** A relation answered by a fixed DuckDB query (system relations). */
export interface QuerySource {
  readonly kind: 'query';
  readonly fullName: string;
  readonly sql: string;
}

export type RelationSource = DeltaSource | ViewSource | QuerySource;

/** How names of a statement become relations; the engine implements it over its metastore. */
export interface RelationResolver {
  /**
   * The relation a table name denotes (`parts`: 1–3 parts as DuckDB parsed
   * them), or undefined to leave the name to DuckDB.
   */
  relation(parts: readonly string[], defaults: NameDefaults): Promise<RelationSource | undefined>;
  /** The Delta table in a folder named by `read_delta` (a path as written). Throws `TABLE_NOT_FOUND`. */
  folder(path: string): Promise<DeltaSource>;
  /**
   * The registered table named by `table_changes`' first argument. Throws
   * `TABLE_NOT_FOUND`. Without it, `table_changes` is left to DuckDB.
   */
  changesTable?(name: string, defaults: NameDefaults): Promise<DeltaSource>;
}

export interface RewriteOptions {
  /** The session's connection: time-travel expressions are evaluated on it (statements are parsed elsewhere). */
  readonly connection: DuckDBConnection;
  readonly resolver: RelationResolver;
  /** The current catalog and schema. */
  readonly defaults: NameDefaults;
}

export interface RewriteResult {
  /** DuckDB SQL. */
  readonly sql: string;
  /** One entry per Delta table reference read, in text order (a view's references where the view is). */
  readonly scans: ScanInfo[];
}

/**
 * Rewrite a script (one or more statements separated by `;`), as text or
 * already tokenized; each statement takes its own snapshots.
 *
 * @example
 * const { sql, scans } = await rewriteScript('SELECT * FROM ml.s.t VERSION AS OF 3 WHERE id = 7', {
 *   connection, resolver, defaults: { catalog: 'main', schema: 'default' },
 * });
 */
export async function rewriteScript(
  script: string | TokenizedSql,
  options: RewriteOptions,
): Promise<RewriteResult> {
  const tokenized = typeof script === 'string' ? tokenizeSql(script) : script;
  const sql = tokenized.text;
  const statements = splitTokenized(tokenized);
  const parts: string[] = [];
  const scans: ScanInfo[] = [];
  let last = 0;
  for (const statement of statements) {
    const result = await new StatementRewriter(options).rewrite(statement);
    parts.push(sql.slice(last, statement.start), result.sql);
    scans.push(...result.scans);
    last = statement.start + statement.text.length;
  }
  parts.push(sql.slice(last));
  return { sql: parts.join(''), scans };
}

/** A statement being rewritten: its (preprocessed) text and what the passes found in it. */
interface StatementState {
  readonly text: string;
  readonly tokens: readonly SqlToken[];
  readonly significant: readonly SqlToken[];
  readonly specs: ReadonlyMap<number, TemporalSpec>;
  /** Offsets of names whose time-travel clause was applied. */
  readonly usedSpecs: Set<number>;
  readonly defaults: NameDefaults;
  /** Views being expanded, outermost first (for cycle detection). */
  readonly views: readonly string[];
}

/** A table reference found in a parse tree. */
interface Target {
  readonly node: AstNode;
  readonly kind: 'base' | typeof READ_DELTA | typeof TABLE_CHANGES;
  /** CTE names visible where the reference is. */
  readonly ctes: ReadonlySet<string>;
  /** A bare `DESCRIBE t` / `SUMMARIZE t`: the replacement must be a query. */
  readonly show: boolean;
}

/** Where a table reference may follow: a reference after one of these is read as a table. */
const TABLE_POSITION_KEYWORDS = new Set([
  'from',
  'join',
  'using',
  'pivot',
  'unpivot',
  'summarize',
  'describe',
]);

/** What makes an expression a statement DuckDB's parser serializes (see `rewriteExpression`). */
const EXPRESSION_PREFIX = 'SELECT ';

/** Keywords a query embedded in a non-SELECT statement can start with. */
const QUERY_START_KEYWORDS = new Set(['select', 'with', 'from']);

/** Words that end a table reference; any other word after a reference may be its alias. */
const AFTER_TABLE_KEYWORDS = new Set(
  (
    'where on using join left right inner full outer cross natural positional asof semi anti group order ' +
    'limit offset having qualify window when union except intersect set returning to at tablesample'
  ).split(' '),
);

/**
 * Rewrites one statement. Holds the statement's snapshots, so that every
 * reference to a table reads the same version: use one per statement.
 */
export class StatementRewriter {
  readonly #connection: DuckDBConnection;
  readonly #resolver: RelationResolver;
  readonly #defaults: NameDefaults;
  readonly #snapshots = new Map<string, Promise<Snapshot>>();

  constructor(options: RewriteOptions) {
    this.#connection = options.connection;
    this.#resolver = options.resolver;
    this.#defaults = options.defaults;
  }

  /**
   * Parse on the process's shared connection, not the session's: parsing needs
   * no session state, and a session inside an aborted transaction must still
   * be able to run its ROLLBACK.
   */
  async #parse(text: string): Promise<ParseResult> {
    return parseSelect(await sharedConnection(), text);
  }

  /** Rewrite `statement` (one statement, without its `;`; as text or already tokenized). */
  rewrite(statement: string | TokenizedSql): Promise<RewriteResult> {
    return this.#statement(
      typeof statement === 'string' ? tokenizeSql(statement) : statement,
      this.#defaults,
      [],
    );
  }

  /**
   * Rewrite a SQL expression that Larder evaluates itself (a condition or a
   * value of a MERGE, UPDATE or DELETE): the references of its subqueries
   * become scans, read at the snapshots this rewriter already took. An
   * expression that reads no table (no SELECT, FROM or table function)
   * comes back as it is, unparsed.
   *
   * @example
   * const rewriter = new StatementRewriter(options);
   * const where = await rewriter.rewriteExpression('id IN (SELECT id FROM ml.s.other)');
   * // where.sql: id IN (SELECT id FROM (SELECT … FROM read_parquet([…])) AS other)
   */
  async rewriteExpression(expression: string): Promise<RewriteResult> {
    const tokens = tokenize(expression);
    if (!readsTables(tokens)) return { sql: expression, scans: [] };
    const statement = new SqlTokenBuilder().write(EXPRESSION_PREFIX).pushAll(tokens).build();
    const { sql, scans } = await this.rewrite(statement);
    if (!sql.startsWith(EXPRESSION_PREFIX)) {
      throw new LarderError('SQL_ERROR', `cannot rewrite the expression ${expression}`);
    }
    return { sql: sql.slice(EXPRESSION_PREFIX.length), scans };
  }

  async #statement(
    original: TokenizedSql,
    defaults: NameDefaults,
    views: readonly string[],
  ): Promise<RewriteResult> {
    // Each stage hands the next its tokens: the statement is tokenized once, by the caller.
    const { text, tokens, specs } = extractTemporalSpecs(quoteReadDeltaTimestamp(sparkToDuckDb(original)));
    const state: StatementState = {
      text,
      tokens,
      significant: tokens.filter(isSignificant),
      specs,
      usedSpecs: new Set(),
      defaults,
      views,
    };
    const parsed = await this.#parse(text);
    let replacements: Replacement[];
    if (parsed.ok) {
      replacements = await this.#rewriteQuery(state, parsed.ast, text, 0);
    } else if (parsed.notSelect) {
      replacements = await this.#rewriteEmbedded(state);
    } else if (specs.size === 0 && !hasLarderCall(tokens)) {
      // Nothing of ours in it: DuckDB reports the syntax error itself, with its pointer into the text.
      return { sql: text, scans: [] };
    } else {
      throw new LarderError('SQL_ERROR', `cannot parse statement: ${parsed.message}`, {
        statement: original.text,
      });
    }
    for (const [at, spec] of specs) {
      if (state.usedSpecs.has(at)) continue;
      const name = nameAt(state.significant, at)?.text ?? text.slice(at, spec.start).trim();
      throw new LarderError(
        'INVALID_ARGUMENT',
        `time travel (${spec.kind.toUpperCase()} AS OF) needs a Delta table, and ${name} is not a registered table`,
        { table: name, hint: 'register the table, or read a folder with read_delta(path, version => n)' },
      );
    }
    return applyReplacements(text, replacements);
  }

  /** Rewrite the references of `sub`, a query that parsed as `ast`, found at `base` in the statement. */
  async #rewriteQuery(
    state: StatementState,
    ast: AstNode,
    sub: string,
    base: number,
  ): Promise<Replacement[]> {
    const contexts = pruneContexts(ast);
    const toChar = byteToCharIndex(sub);
    const replacements: Replacement[] = [];
    for (const target of collectTargets(ast)) {
      const location = Number(target.node.query_location);
      const start = location === UNKNOWN_LOCATION ? undefined : base + toChar(location);
      const context = contexts.get(target.node);
      let replacement: Replacement | undefined;
      if (target.kind === 'base') {
        replacement = await this.#baseTable(state, target, start, context);
      } else if (start === undefined) {
        throw new LarderError('SQL_ERROR', `cannot locate the ${target.kind}(…) call in the statement`);
      } else if (target.kind === READ_DELTA) {
        replacement = await this.#readDelta(state, target.node, start, context, aliasOf(target.node) === '');
      } else {
        replacement = await this.#tableChanges(state, target.node, start, aliasOf(target.node) === '');
      }
      if (replacement) replacements.push(replacement);
    }
    return replacements;
  }

  /** A non-SELECT statement: rewrite the queries inside it, then the references in table position. */
  async #rewriteEmbedded(state: StatementState): Promise<Replacement[]> {
    const { text, significant } = state;
    const covered: [number, number][] = [];
    const isCovered = (at: number) => covered.some(([s, e]) => at >= s && at < e);
    const replacements: Replacement[] = [];
    for (const [index, token] of significant.entries()) {
      if (token.kind !== 'word' || !QUERY_START_KEYWORDS.has(token.text.toLowerCase())) continue;
      if (isCovered(token.start)) continue;
      const end = enclosingGroupEnd(significant, index, text.length);
      const sub = text.slice(token.start, end);
      const parsed = await this.#parse(sub);
      if (!parsed.ok) continue;
      covered.push([token.start, end]);
      replacements.push(...(await this.#rewriteQuery(state, parsed.ast, sub, token.start)));
    }
    for (const [index, token] of significant.entries()) {
      if (isCovered(token.start)) continue;
      const before = significant[index - 1];
      if (before?.kind !== 'word' || !TABLE_POSITION_KEYWORDS.has(before.text.toLowerCase())) continue;
      if (before.text.toLowerCase() === 'from' && significant[index - 2]?.text.toLowerCase() === 'delete')
        continue;
      const replacement = await this.#tablePosition(state, index);
      if (replacement) replacements.push(replacement);
    }
    return replacements;
  }

  /** A reference at significant token `index` of a statement that did not parse as a whole. */
  async #tablePosition(state: StatementState, index: number): Promise<Replacement | undefined> {
    const { text, significant } = state;
    const token = significant[index]!;
    const isCall = significant[index + 1]?.text === '(';
    const fn = [READ_DELTA, TABLE_CHANGES].find((name) => isFunctionName(token, name));
    if (isCall && fn) {
      const end = callEnd(state.tokens, token.start);
      const parsed = await this.#parse(`SELECT * FROM ${text.slice(token.start, end)}`);
      if (!parsed.ok) {
        throw new LarderError('SQL_ERROR', `cannot parse ${fn} call: ${parsed.message}`, { statement: text });
      }
      const node = collectTargets(parsed.ast).find((t) => t.kind === fn)?.node;
      if (!node) return undefined;
      // Without an AST of the whole statement we cannot see an alias; a subquery may go unnamed, so
      // name it only where no alias can follow.
      const name = !aliasMayFollow(significant, end);
      return fn === READ_DELTA
        ? this.#readDelta(state, node, token.start, undefined, name)
        : this.#tableChanges(state, node, token.start, name);
    }
    if (isCall) return undefined;
    const name = nameAt(significant, token.start);
    if (!name) return undefined;
    const relation = await this.#resolver.relation(name.parts, state.defaults);
    if (!relation) return undefined;
    const alias = aliasMayFollow(significant, name.end) ? '' : ` AS ${sqlIdent(name.parts.at(-1)!)}`;
    const { body, scans } = await this.#relationBody(state, relation, token.start, name.text, {
      node: undefined,
      relationName: name.parts.at(-1)!,
      context: undefined,
    });
    return { start: token.start, end: name.end, text: body + alias, scans };
  }

  async #baseTable(
    state: StatementState,
    target: Target,
    start: number | undefined,
    context: PruneContext | undefined,
  ): Promise<Replacement | undefined> {
    const node = target.node;
    const parts = [node.catalog_name, node.schema_name, node.table_name].filter(
      (p): p is string => typeof p === 'string' && p !== '',
    );
    if (parts.length === 1 && target.ctes.has(parts[0]!.toLowerCase())) return undefined;
    // FROM 'file.parquet': a file DuckDB reads itself, whatever its name.
    if (start !== undefined && state.significant.find((t) => t.start === start)?.kind === 'string')
      return undefined;
    const relation = await this.#resolver.relation(parts, state.defaults);
    if (!relation) return undefined;
    if (start === undefined) {
      throw new LarderError(
        'SQL_ERROR',
        `cannot locate the reference to ${relation.fullName} in the statement`,
        {
          table: relation.fullName,
        },
      );
    }
    const name = nameAt(state.significant, start);
    if (!name || name.parts.length !== parts.length) {
      throw new LarderError(
        'SQL_ERROR',
        `cannot locate the reference to ${relation.fullName} in the statement`,
        {
          table: relation.fullName,
        },
      );
    }
    const table = String(node.table_name);
    const alias = aliasOf(node);
    const nativeAt = node.at_clause && !state.specs.has(start) ? findAtClause(state, name.end) : undefined;
    const { body, scans } = await this.#relationBody(state, relation, start, name.text, {
      node,
      relationName: alias === '' ? table : alias,
      context,
      spec: nativeAt,
    });
    const replacements: Replacement[] = [];
    const text = target.show
      ? `SELECT * FROM ${body} AS ${sqlIdent(table)}`
      : `${body}${alias === '' ? ` AS ${sqlIdent(table)}` : ''}`;
    replacements.push({ start, end: name.end, text, scans });
    if (nativeAt) replacements.push({ start: nativeAt.start, end: nativeAt.end, text: '', scans: [] });
    return replacements.length === 1 ? replacements[0] : mergeReplacements(state.text, replacements);
  }

  /** The parenthesized query standing for `relation`, referenced at `start` by `written`. */
  async #relationBody(
    state: StatementState,
    relation: RelationSource,
    start: number,
    written: string,
    reference: {
      readonly node: AstNode | undefined;
      readonly relationName: string;
      readonly context: PruneContext | undefined;
      readonly spec?: TemporalSpec | undefined;
    },
  ): Promise<{ body: string; scans: ScanInfo[] }> {
    const spec = state.specs.get(start) ?? reference.spec;
    if (state.specs.has(start)) state.usedSpecs.add(start);
    if (relation.kind === 'query') {
      if (spec) throw timeTravelOnNonTable(written, 'a system table');
      return { body: `(${relation.sql})`, scans: [] };
    }
    if (relation.kind === 'view') {
      if (spec) throw timeTravelOnNonTable(written, 'a view');
      if (state.views.includes(relation.fullName)) {
        const cycle = [...state.views.slice(state.views.indexOf(relation.fullName)), relation.fullName];
        throw new LarderError(
          'VIEW_CYCLE',
          `view ${relation.fullName} refers to itself: ${cycle.join(' → ')}`,
          {
            table: relation.fullName,
            hint: 'replace one of the views so that the chain ends in tables',
          },
        );
      }
      const [query, ...more] = splitTokenized(tokenizeSql(relation.sql));
      if (!query || more.length > 0) {
        throw new LarderError('INVALID_ARGUMENT', `view ${relation.fullName} must hold exactly one query`, {
          table: relation.fullName,
        });
      }
      const expanded = await this.#statement(query, relation.defaults, [...state.views, relation.fullName]);
      return { body: `(${expanded.sql})`, scans: expanded.scans };
    }
    const snapshot = spec
      ? await this.#snapshotAt(relation, await this.#evaluate(spec, written))
      : await this.#latest(relation);
    const predicate =
      reference.node && reference.context
        ? pruningPredicate(reference.node, reference.relationName, snapshot, reference.context)
        : undefined;
    const plan = await planScan(snapshot, { predicate });
    const scan: ScanInfo = {
      ...(relation.fullName === undefined ? {} : { table: relation.fullName }),
      path: relation.path,
      version: snapshot.version,
      filesRead: plan.files.length,
      totalFiles: plan.totalFiles,
      ...(predicate === undefined ? {} : { filter: predicateText(predicate) }),
    };
    return { body: `(${plan.sql})`, scans: [scan] };
  }

  async #readDelta(
    state: StatementState,
    node: AstNode,
    start: number,
    context: PruneContext | undefined,
    addAlias: boolean,
  ): Promise<Replacement> {
    const args = readDeltaArguments(node.function as AstNode);
    const source = await this.#resolver.folder(args.path);
    const snapshot =
      args.version !== undefined
        ? await this.#snapshotAt(source, { version: args.version })
        : args.timestamp !== undefined
          ? await this.#snapshotAt(source, { timestamp: timestampMillis(args.timestamp, args.path) })
          : await this.#latest(source);
    const alias = aliasOf(node);
    const predicate = context
      ? pruningPredicate(node, alias === '' ? READ_DELTA : alias, snapshot, context)
      : undefined;
    const plan = await planScan(snapshot, { predicate });
    return {
      start,
      end: callEnd(state.tokens, start),
      text: `(${plan.sql})${addAlias ? ` AS ${READ_DELTA}` : ''}`,
      scans: [
        {
          path: args.path,
          version: snapshot.version,
          filesRead: plan.files.length,
          totalFiles: plan.totalFiles,
          ...(predicate === undefined ? {} : { filter: predicateText(predicate) }),
        },
      ],
    };
  }

  async #tableChanges(
    state: StatementState,
    node: AstNode,
    start: number,
    addAlias: boolean,
  ): Promise<Replacement | undefined> {
    const changesTable = this.#resolver.changesTable?.bind(this.#resolver);
    if (!changesTable) return undefined;
    const args = tableChangesArguments(node.function as AstNode);
    const source = await changesTable(args.table, state.defaults);
    const { startVersion, endVersion } = await changeRange(source, args.start, args.end);
    const plan = await planChanges(source.store, { startVersion, endVersion }).catch((error: unknown) => {
      throw renamed(error, source);
    });
    return {
      start,
      end: callEnd(state.tokens, start),
      text: `(${plan.sql})${addAlias ? ` AS ${TABLE_CHANGES}` : ''}`,
      scans: [],
    };
  }

  #latest(source: DeltaSource): Promise<Snapshot> {
    return this.#remember(source.key, () => source.latest());
  }

  #snapshotAt(source: DeltaSource, choice: SnapshotChoice): Promise<Snapshot> {
    const key =
      'version' in choice ? `${source.key}@v${choice.version}` : `${source.key}@t${choice.timestamp}`;
    return this.#remember(key, () =>
      source.at(choice).catch((error: unknown) => {
        throw renamed(error, source);
      }),
    );
  }

  #remember(key: string, load: () => Promise<Snapshot>): Promise<Snapshot> {
    let snapshot = this.#snapshots.get(key);
    if (!snapshot) {
      snapshot = load();
      this.#snapshots.set(key, snapshot);
    }
    return snapshot;
  }

  /** The version or instant a time-travel clause names, evaluated by DuckDB. */
  async #evaluate(spec: TemporalSpec, table: string): Promise<SnapshotChoice> {
    const expression = spec.expression.trim();
    if (spec.kind === 'version' && /^\d+$/.test(expression)) return { version: Number(expression) };
    const sql =
      spec.kind === 'version'
        ? `SELECT CAST((${expression}) AS BIGINT)::VARCHAR`
        : `SELECT epoch_ms(CAST((${expression}) AS TIMESTAMPTZ))::VARCHAR`;
    let value: number;
    try {
      const reader = await this.#connection.runAndReadAll(sql);
      value = Number(reader.getRowsJson()[0]?.[0]);
    } catch (error) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `${table}: ${spec.kind.toUpperCase()} AS OF ${expression} is not a ${spec.kind}: ${(error as Error).message}`,
        { table, cause: error },
      );
    }
    if (!Number.isSafeInteger(value) || (spec.kind === 'version' && value < 0)) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `${table}: ${spec.kind.toUpperCase()} AS OF ${expression} is not a ${spec.kind}`,
        {
          table,
        },
      );
    }
    return spec.kind === 'version' ? { version: value } : { timestamp: value };
  }
}

/** Every Delta-relevant table reference of a parse tree, in tree order, with the CTE names in scope. */
function collectTargets(ast: AstNode): Target[] {
  const shows = new Set<unknown>();
  const targets: Target[] = [];
  const visit = (value: unknown, ctes: ReadonlySet<string>): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, ctes);
      return;
    }
    if (!isObject(value)) return;
    let scope = ctes;
    const map = isObject(value.cte_map) ? value.cte_map.map : undefined;
    if (Array.isArray(map) && map.length > 0) {
      scope = new Set([
        ...ctes,
        ...map.map((entry) => String(isObject(entry) ? entry.key : '').toLowerCase()),
      ]);
    }
    if (value.type === 'SHOW_REF' && isObject(value.query)) {
      const query = value.query;
      const star = Array.isArray(query.select_list) ? query.select_list[0] : undefined;
      if (isObject(query.from_table) && isObject(star) && Number(star.query_location) === UNKNOWN_LOCATION) {
        shows.add(query.from_table);
      }
    }
    if (value.type === 'BASE_TABLE') {
      targets.push({ node: value, kind: 'base', ctes: scope, show: shows.has(value) });
    } else {
      const fn = tableFunctionName(value);
      if (fn === READ_DELTA || fn === TABLE_CHANGES)
        targets.push({ node: value, kind: fn, ctes: scope, show: false });
    }
    for (const child of Object.values(value)) visit(child, scope);
  };
  visit(ast, new Set());
  return targets;
}

function aliasOf(node: AstNode): string {
  return typeof node.alias === 'string' ? node.alias : '';
}

/** The dotted name (1–3 parts) whose first token starts at `start`. */
function nameAt(
  significant: readonly SqlToken[],
  start: number,
): { parts: string[]; end: number; text: string } | undefined {
  const index = significant.findIndex((t) => t.start === start);
  if (index < 0) return undefined;
  const parts: string[] = [];
  let i = index;
  for (;;) {
    const token = significant[i];
    if (token?.kind === 'word') parts.push(token.text);
    else if (token?.kind === 'quoted') parts.push(token.text.slice(1, -1).replaceAll('""', '"'));
    else return undefined;
    if (parts.length === 3 || significant[i + 1]?.text !== '.') break;
    i += 2;
  }
  const end = significant[i]!.end;
  return {
    parts,
    end,
    text: significant
      .slice(index, i + 1)
      .map((t) => t.text)
      .join(''),
  };
}

/** Whether an expression may read a table: a subquery, or a table function of ours. */
function readsTables(tokens: readonly SqlToken[]): boolean {
  return (
    hasLarderCall(tokens) ||
    tokens.some((t) => t.kind === 'word' && QUERY_START_KEYWORDS.has(t.text.toLowerCase()))
  );
}

function hasLarderCall(tokens: readonly SqlToken[]): boolean {
  return findCalls(tokens, READ_DELTA).length > 0 || findCalls(tokens, TABLE_CHANGES).length > 0;
}

/** The end (exclusive) of the call whose function name starts at `start`. */
function callEnd(tokens: readonly SqlToken[], start: number): number {
  const name = tokens.find((t) => t.start === start);
  const end = name ? parenthesizedEnd(tokens, name.end) : undefined;
  if (end === undefined) {
    throw new LarderError('SQL_ERROR', `cannot locate the end of the call at offset ${start}`);
  }
  return end;
}

/** Whether the significant token after `end` may be an alias of the table reference ending there. */
function aliasMayFollow(significant: readonly SqlToken[], end: number): boolean {
  const next = significant.find((t) => t.start >= end);
  if (next === undefined) return false;
  if (next.kind === 'quoted') return true;
  return next.kind === 'word' && !AFTER_TABLE_KEYWORDS.has(next.text.toLowerCase());
}

/** End of the innermost parenthesized group around significant token `index`, or `fallback`. */
function enclosingGroupEnd(significant: readonly SqlToken[], index: number, fallback: number): number {
  let depth = 0;
  for (let i = index; i < significant.length; i++) {
    const token = significant[i]!;
    if (token.text === '(') depth++;
    else if (token.text === ')') {
      if (depth === 0) return token.start;
      depth--;
    }
  }
  return fallback;
}

function timeTravelOnNonTable(name: string, what: string): LarderError {
  return new LarderError('INVALID_ARGUMENT', `time travel needs a Delta table, and ${name} is ${what}`, {
    table: name,
  });
}

/** `VERSION_NOT_FOUND` and `TABLE_NOT_FOUND` of a registered table name it, not its folder. */
function renamed(error: unknown, source: DeltaSource): unknown {
  if (source.fullName === undefined || !isLarderError(error)) return error;
  if (error.code !== 'VERSION_NOT_FOUND' && error.code !== 'TABLE_NOT_FOUND') return error;
  return new LarderError(error.code, error.message.replaceAll(source.store.root, source.fullName), {
    ...error.context,
    table: source.fullName,
    cause: error,
  });
}

/** A timestamp literal as ms since the epoch (UTC unless it says otherwise). */
function timestampMillis(value: string, table: string): number {
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value)
    ? `${value}T00:00:00Z`
    : /[zZ]|[+-]\d{2}:?\d{2}$/.test(value)
      ? value
      : `${value.replace(' ', 'T')}Z`;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new LarderError('INVALID_ARGUMENT', `"${value}" is not a timestamp`, {
      table,
      hint: "use ISO-8601, e.g. '2024-05-01 12:00:00'",
    });
  }
  return ms;
}

/**
 * The versions a `table_changes` range covers: a start timestamp is the
 * first commit at or after it, an end timestamp the last commit at or before
 * it (as Databricks reads them).
 */
async function changeRange(
  source: DeltaSource,
  start: ChangeBound,
  end: ChangeBound | undefined,
): Promise<{ startVersion: number; endVersion: number | undefined }> {
  const name = source.fullName ?? source.path;
  if ('version' in start && (end === undefined || 'version' in end)) {
    return { startVersion: start.version, endVersion: end?.version };
  }
  const listing = await listLog(source.store);
  const timing = commitTiming((await source.latest()).metadata.configuration);
  const times = [...(await commitTimestamps(source.store, listing, timing))].sort((a, b) => a[0] - b[0]);
  const resolve = (bound: ChangeBound, first: boolean): number => {
    if ('version' in bound) return bound.version;
    const ms = timestampMillis(bound.timestamp, name);
    const found = first ? times.find(([, ts]) => ts >= ms) : times.findLast(([, ts]) => ts <= ms);
    if (!found) {
      throw new LarderError(
        'VERSION_NOT_FOUND',
        `table ${name} has no commit ${first ? 'at or after' : 'at or before'} ${bound.timestamp}`,
        { table: name },
      );
    }
    return found[0];
  };
  return {
    startVersion: resolve(start, true),
    endVersion: end === undefined ? undefined : resolve(end, false),
  };
}
