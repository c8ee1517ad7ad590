/**
 * The `read_delta(path [, version => n | timestamp => '…'])` table function of
 * Larder SQL. DuckDB has no Delta reader of ours inside it, so before a
 * statement runs we find every `read_delta` call with DuckDB's own parser
 * (`json_serialize_sql`, which locates each table function in the text) and
 * replace the call's text with a subquery over the Delta snapshot's files,
 * planned by `planScan`. The WHERE clause of the query block that reads the
 * function directly is turned into a pruning predicate, so files that cannot
 * hold a matching row are never read.
 *
 * Invariants:
 * - only real table-function calls are rewritten: a string or comment that
 *   contains `read_delta(`, or a column named read_delta, is left alone;
 * - pruning never drops a row: a conjunct is used only when every column it
 *   names certainly belongs to the Delta relation and the relation's rows are
 *   not null-extended, sampled or matched positionally/as-of by a join;
 *   DuckDB still evaluates the whole WHERE clause on the rows it reads;
 * - the rewritten call keeps its alias (or gets `read_delta`), so qualified
 *   column references keep working.
 *
 * `json_serialize_sql` only serializes SELECT statements; for other statements
 * (CREATE TABLE … AS, INSERT … SELECT, COPY (…) TO, EXPLAIN, …) the queries
 * embedded in them are parsed on their own, and a call found in no query that
 * parses is still rewritten, without pruning, when it stands where a table
 * goes (after FROM, JOIN, USING, PIVOT, …).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { loadSnapshot } from '../delta/log/replay.js';
import type { Snapshot } from '../delta/log/snapshot.js';
import { predicateFromAst } from '../delta/scan/prune.js';
import { planScan } from '../delta/scan/scan.js';
import { LocalLogStore } from '../delta/storage/local-log-store.js';
import { sharedConnection, sqlString } from '../duckdb/duckdb.js';
import { isLarderError, LarderError } from '../errors.js';
import {
  isSignificant,
  parenthesizedEnd,
  type SqlToken,
  splitStatements,
  tokenize,
} from './sql-tokenizer.js';

/** What one `read_delta` call of a statement reads. */
export interface ScanInfo {
  /** The path as written in the call. */
  readonly path: string;
  /** The snapshot version read. */
  readonly version: number;
  /** Data files left after pruning. */
  readonly filesRead: number;
  /** Live data files of the snapshot. */
  readonly totalFiles: number;
}

export interface ReadDeltaOptions {
  /** Folder that relative table paths are resolved against. */
  readonly cwd: string;
  /** Connection used to parse statements; defaults to the shared connection. */
  readonly connection?: DuckDBConnection;
}

export interface ReadDeltaRewrite {
  /** The SQL with every `read_delta(…)` call replaced by a subquery. */
  readonly sql: string;
  /** One entry per rewritten call, in text order. */
  readonly scans: ScanInfo[];
}

/** The function name Larder SQL reserves; also the alias given to unaliased calls. */
export const READ_DELTA = 'read_delta';

/** Where a table reference may follow: a call after one of these is read as a table. */
const TABLE_POSITION_KEYWORDS = new Set([
  'from',
  'join',
  'using',
  'pivot',
  'unpivot',
  'summarize',
  'describe',
]);

/** Keywords a query embedded in a non-SELECT statement can start with. */
const QUERY_START_KEYWORDS = new Set(['select', 'with', 'from']);

/** Joins through which a filter on one side's columns commutes with the join. */
const PRUNABLE_REF_TYPES = new Set(['REGULAR', 'NATURAL', 'CROSS']);

/**
 * Replace every `read_delta(…)` table-function call in `sql` (one statement
 * or several separated by `;`) with a subquery over the Delta table's files.
 *
 * Throws `TABLE_NOT_FOUND` naming the path when there is no Delta table there,
 * `INVALID_ARGUMENT` naming the argument when an argument is not a constant of
 * the right type (or both `version` and `timestamp` are given), `SQL_ERROR`
 * with DuckDB's message when a statement with a `read_delta` call does not parse.
 *
 * @example
 * const { sql, scans } = await rewriteReadDelta(
 *   "SELECT count(*) FROM read_delta('data/events', version => 3) WHERE day = '2024-05-01'",
 *   { cwd: process.cwd() },
 * );
 */
export async function rewriteReadDelta(sql: string, options: ReadDeltaOptions): Promise<ReadDeltaRewrite> {
  const rewriter = new Rewriter(options);
  const statements = splitStatements(sql);
  const parts: string[] = [];
  const scans: ScanInfo[] = [];
  let last = 0;
  for (const statement of statements) {
    const result = await rewriter.statement(statement.text);
    parts.push(sql.slice(last, statement.start), result.sql);
    scans.push(...result.scans);
    last = statement.start + statement.text.length;
  }
  parts.push(sql.slice(last));
  return { sql: parts.join(''), scans };
}

/** A JSON AST node as `json_serialize_sql` prints it. */
type AstNode = Record<string, unknown>;

interface Replacement {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly scan: ScanInfo;
}

/** What the query block reading a `read_delta` call directly tells us about pruning. */
interface PruneContext {
  readonly where: unknown;
  /** USING columns of joins whose unqualified name is ambiguous for pruning. */
  readonly unsafeUnqualified: ReadonlySet<string>;
  /** A NATURAL non-inner join on the path: unqualified names cannot be trusted. */
  readonly qualifiedOnly: boolean;
}

interface CallArguments {
  readonly path: string;
  readonly version: number | undefined;
  readonly timestamp: string | undefined;
}

class Rewriter {
  readonly #cwd: string;
  readonly #connection: DuckDBConnection | undefined;
  readonly #snapshots = new Map<string, Promise<Snapshot>>();

  constructor(options: ReadDeltaOptions) {
    this.#cwd = options.cwd;
    this.#connection = options.connection;
  }

  async statement(original: string): Promise<ReadDeltaRewrite> {
    if (findCalls(tokenize(original)).length === 0) return { sql: original, scans: [] };
    const text = quoteTimestampArguments(original);
    const tokens = tokenize(text);
    const parsed = await this.#serialize(text);
    let replacements: Replacement[];
    if (parsed.ok) {
      replacements = await this.#rewriteQuery(parsed.ast, text, tokens, 0);
    } else if (parsed.notSelect) {
      replacements = await this.#rewriteEmbedded(text, tokens);
    } else {
      throw new LarderError('SQL_ERROR', `cannot parse statement: ${parsed.message}`, {
        statement: original,
      });
    }
    return applyReplacements(text, replacements);
  }

  /** Rewrite the calls of a text that parsed as SELECT; `base` is its offset in the statement. */
  async #rewriteQuery(
    ast: AstNode,
    text: string,
    tokens: readonly SqlToken[],
    base: number,
  ): Promise<Replacement[]> {
    const contexts = pruneContexts(ast);
    const toChar = byteToCharIndex(text);
    const replacements: Replacement[] = [];
    for (const node of readDeltaNodes(ast)) {
      const start = base + toChar(Number(node.query_location));
      const alias = typeof node.alias === 'string' && node.alias !== '' ? '' : READ_DELTA;
      replacements.push(await this.#replacement(node, contexts.get(node), tokens, start, alias));
    }
    return replacements;
  }

  /** A non-SELECT statement: rewrite the queries inside it, then the calls in table position. */
  async #rewriteEmbedded(text: string, tokens: readonly SqlToken[]): Promise<Replacement[]> {
    const calls = findCalls(tokens);
    const covered: [number, number][] = [];
    const isCovered = (at: number) => covered.some(([s, e]) => at >= s && at < e);
    const replacements: Replacement[] = [];
    const significant = tokens.filter(isSignificant);
    for (const [index, token] of significant.entries()) {
      if (token.kind !== 'word' || !QUERY_START_KEYWORDS.has(token.text.toLowerCase())) continue;
      if (isCovered(token.start)) continue;
      const end = enclosingGroupEnd(significant, index, text.length);
      if (!calls.some((call) => call.start >= token.start && call.start < end && !isCovered(call.start)))
        continue;
      const sub = text.slice(token.start, end);
      const parsed = await this.#serialize(sub);
      if (!parsed.ok) continue;
      covered.push([token.start, end]);
      replacements.push(...(await this.#rewriteQuery(parsed.ast, sub, tokens, token.start)));
    }
    for (const call of calls) {
      if (isCovered(call.start)) continue;
      const before = significant[significant.indexOf(call) - 1];
      if (before?.kind !== 'word' || !TABLE_POSITION_KEYWORDS.has(before.text.toLowerCase())) continue;
      const end = callEnd(tokens, call.start);
      const parsed = await this.#serialize(`SELECT * FROM ${text.slice(call.start, end)}`);
      if (!parsed.ok) {
        throw new LarderError('SQL_ERROR', `cannot parse ${READ_DELTA} call: ${parsed.message}`, {
          statement: text,
        });
      }
      const [node] = readDeltaNodes(parsed.ast);
      if (!node) continue;
      // Without an AST of the whole statement we cannot see an alias; a subquery may go unnamed, so
      // name it only where no alias can follow.
      const alias = aliasMayFollow(significant, end) ? '' : READ_DELTA;
      replacements.push(await this.#replacement(node, undefined, tokens, call.start, alias));
    }
    return replacements;
  }

  async #replacement(
    node: AstNode,
    context: PruneContext | undefined,
    tokens: readonly SqlToken[],
    start: number,
    addAlias: string,
  ): Promise<Replacement> {
    const args = callArguments(node.function as AstNode);
    const snapshot = await this.#snapshot(args);
    const alias = typeof node.alias === 'string' ? node.alias : '';
    const predicate = context ? pruningPredicate(node, alias, snapshot, context) : undefined;
    const plan = await planScan(snapshot, { predicate });
    const end = callEnd(tokens, start);
    return {
      start,
      end,
      text: `(${plan.sql})${addAlias === '' ? '' : ` AS ${addAlias}`}`,
      scan: {
        path: args.path,
        version: snapshot.version,
        filesRead: plan.files.length,
        totalFiles: plan.totalFiles,
      },
    };
  }

  #snapshot(args: CallArguments): Promise<Snapshot> {
    const root = resolve(this.#cwd, args.path);
    const key = JSON.stringify([root, args.version, args.timestamp]);
    let snapshot = this.#snapshots.get(key);
    if (!snapshot) {
      snapshot = openSnapshot(args, root);
      this.#snapshots.set(key, snapshot);
    }
    return snapshot;
  }

  async #serialize(
    text: string,
  ): Promise<{ ok: true; ast: AstNode } | { ok: false; notSelect: boolean; message: string }> {
    const connection = this.#connection ?? (await sharedConnection());
    const reader = await connection.runAndReadAll(`SELECT json_serialize_sql(${sqlString(text)}) AS ast`);
    const json = reader.getRowsJson()[0]?.[0];
    const ast = JSON.parse(typeof json === 'string' ? json : '{}') as AstNode;
    if (ast.error === false) return { ok: true, ast };
    return {
      ok: false,
      notSelect: ast.error_type === 'not implemented',
      message: String(ast.error_message ?? 'unknown parser error'),
    };
  }
}

async function openSnapshot(args: CallArguments, root: string): Promise<Snapshot> {
  const notFound = (cause?: unknown) =>
    new LarderError('TABLE_NOT_FOUND', `no Delta table at '${args.path}' (${root})`, {
      table: args.path,
      file: root,
      cause,
      hint: 'check the path; relative paths are resolved against the working folder',
    });
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw notFound();
  try {
    return await loadSnapshot(new LocalLogStore(root), {
      ...(args.version === undefined ? {} : { version: args.version }),
      ...(args.timestamp === undefined ? {} : { timestamp: args.timestamp }),
    });
  } catch (error) {
    if (isLarderError(error, 'TABLE_NOT_FOUND')) throw notFound(error);
    throw error;
  }
}

/** The `read_delta` name tokens of the text that are followed by `(`. */
function findCalls(tokens: readonly SqlToken[]): SqlToken[] {
  const significant = tokens.filter(isSignificant);
  return significant.filter((token, i) => isReadDeltaName(token) && significant[i + 1]?.text === '(');
}

function isReadDeltaName(token: SqlToken): boolean {
  if (token.kind === 'word') return token.text.toLowerCase() === READ_DELTA;
  if (token.kind === 'quoted')
    return token.text.slice(1, -1).replaceAll('""', '"').toLowerCase() === READ_DELTA;
  return false;
}

/**
 * `timestamp` is a type keyword, so DuckDB's parser rejects `timestamp => …`
 * as a named argument; quoting it (`"timestamp" => …`) inside `read_delta`
 * calls lets the call parse. The call's text is replaced afterwards anyway.
 */
function quoteTimestampArguments(text: string): string {
  const tokens = tokenize(text);
  const significant = tokens.filter(isSignificant);
  const targets: SqlToken[] = [];
  for (const call of findCalls(tokens)) {
    // An unclosed call is left as it is: DuckDB's parser reports it.
    const end = parenthesizedEnd(tokens, call.end) ?? -1;
    let depth = 0;
    for (const [i, token] of significant.entries()) {
      if (token.start <= call.start || token.start >= end) continue;
      if (token.text === '(') depth++;
      else if (token.text === ')') depth--;
      else if (
        depth === 1 &&
        token.kind === 'word' &&
        token.text.toLowerCase() === 'timestamp' &&
        significant[i + 1]?.text === '=>'
      ) {
        targets.push(token);
      }
    }
  }
  let out = text;
  for (const token of targets.sort((a, b) => b.start - a.start)) {
    out = `${out.slice(0, token.start)}"${token.text}"${out.slice(token.end)}`;
  }
  return out;
}

/** The end (exclusive) of the call whose function name starts at `start`. */
function callEnd(tokens: readonly SqlToken[], start: number): number {
  const name = tokens.find((t) => t.start === start);
  const end = name && isReadDeltaName(name) ? parenthesizedEnd(tokens, name.end) : undefined;
  if (end === undefined) {
    throw new LarderError('SQL_ERROR', `cannot locate the ${READ_DELTA}(…) call at offset ${start}`);
  }
  return end;
}

/** Words that end a table reference; any other word after a call may be its alias. */
const AFTER_TABLE_KEYWORDS = new Set(
  (
    'where on using join left right inner full outer cross natural positional asof semi anti group order ' +
    'limit offset having qualify window when union except intersect set returning to'
  ).split(' '),
);

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

function applyReplacements(text: string, replacements: readonly Replacement[]): ReadDeltaRewrite {
  const sorted = [...replacements].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.start < sorted[i - 1]!.end) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `a ${READ_DELTA} call cannot contain another ${READ_DELTA} call`,
      );
    }
  }
  let out = text;
  for (const r of [...sorted].reverse()) out = out.slice(0, r.start) + r.text + out.slice(r.end);
  return { sql: out, scans: sorted.map((r) => r.scan) };
}

/** Map UTF-8 byte offsets (DuckDB's `query_location`) to UTF-16 indices of `text`. */
function byteToCharIndex(text: string): (byteOffset: number) => number {
  const map = new Map<number, number>();
  let bytes = 0;
  let index = 0;
  for (const ch of text) {
    map.set(bytes, index);
    bytes += Buffer.byteLength(ch);
    index += ch.length;
  }
  map.set(bytes, index);
  return (offset) => {
    const at = map.get(offset);
    if (at === undefined)
      throw new LarderError('SQL_ERROR', `parser location ${offset} is not in the statement`);
    return at;
  };
}

function isObject(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every object of the AST, depth first. */
function* walk(value: unknown): Generator<AstNode> {
  if (Array.isArray(value)) {
    for (const item of value) yield* walk(item);
  } else if (isObject(value)) {
    yield value;
    for (const child of Object.values(value)) yield* walk(child);
  }
}

function isReadDeltaNode(node: AstNode): boolean {
  if (node.type !== 'TABLE_FUNCTION' || !isObject(node.function)) return false;
  const fn = node.function;
  return fn.function_name === READ_DELTA && !fn.schema && !fn.catalog;
}

function readDeltaNodes(ast: AstNode): AstNode[] {
  return [...walk(ast)].filter(isReadDeltaNode);
}

/** For each `read_delta` node read directly by a query block, what its WHERE clause may prune. */
function pruneContexts(ast: AstNode): Map<AstNode, PruneContext> {
  const contexts = new Map<AstNode, PruneContext>();
  for (const node of walk(ast)) {
    if (node.type !== 'SELECT_NODE' || !node.where_clause || node.sample) continue;
    const visit = (ref: unknown, unsafe: Set<string>, qualifiedOnly: boolean): void => {
      if (!isObject(ref) || ref.sample) return;
      if (isReadDeltaNode(ref)) {
        contexts.set(ref, { where: node.where_clause, unsafeUnqualified: unsafe, qualifiedOnly });
        return;
      }
      if (ref.type !== 'JOIN' || !PRUNABLE_REF_TYPES.has(String(ref.ref_type))) return;
      const joinType = String(ref.join_type);
      const inner = joinType === 'INNER';
      const using = Array.isArray(ref.using_columns)
        ? ref.using_columns.map((c) => String(c).toLowerCase())
        : [];
      const nextUnsafe = inner ? unsafe : new Set([...unsafe, ...using]);
      const nextQualifiedOnly = qualifiedOnly || (!inner && ref.ref_type === 'NATURAL');
      if (inner || joinType === 'LEFT' || joinType === 'SEMI' || joinType === 'ANTI') {
        visit(ref.left, nextUnsafe, nextQualifiedOnly);
      }
      if (inner || joinType === 'RIGHT') visit(ref.right, nextUnsafe, nextQualifiedOnly);
    };
    visit(node.from_table, new Set(), false);
  }
  return contexts;
}

/** The conjuncts of `where` that name only this relation's columns, as a predicate. */
function pruningPredicate(node: AstNode, alias: string, snapshot: Snapshot, context: PruneContext) {
  if (Array.isArray(node.column_name_alias) && node.column_name_alias.length > 0) return undefined;
  const columns = new Map(snapshot.schema.fields.map((f) => [f.name.toLowerCase(), f.name]));
  const relation = (alias === '' ? READ_DELTA : alias).toLowerCase();
  const resolveRef = (parts: readonly string[]): string | undefined => {
    const lower = parts.map((p) => p.toLowerCase());
    if (lower.length === 1 && !context.qualifiedOnly && !context.unsafeUnqualified.has(lower[0]!)) {
      return columns.get(lower[0]!);
    }
    if (lower.length === 2 && lower[0] === relation) return columns.get(lower[1]!);
    return undefined;
  };
  const conjuncts = splitConjuncts(context.where)
    .map((conjunct) => ownConjunct(conjunct, resolveRef))
    .filter((c): c is AstNode => c !== undefined);
  if (conjuncts.length === 0) return undefined;
  const where =
    conjuncts.length === 1
      ? conjuncts[0]
      : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: conjuncts };
  return predicateFromAst(where);
}

function splitConjuncts(expression: unknown): unknown[] {
  if (isObject(expression) && expression.type === 'CONJUNCTION_AND' && Array.isArray(expression.children)) {
    return expression.children.flatMap(splitConjuncts);
  }
  return [expression];
}

/**
 * A copy of `conjunct` with every column reference resolved to a column of
 * the relation (unqualified, as the schema names it), or undefined when any
 * reference might name something else or the conjunct holds a subquery or a
 * lambda (whose names are scoped differently).
 */
function ownConjunct(
  conjunct: unknown,
  resolveRef: (parts: readonly string[]) => string | undefined,
): AstNode | undefined {
  let refs = 0;
  let safe = true;
  const copy = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(copy);
    if (!isObject(value)) return value;
    if (value.class === 'SUBQUERY' || value.class === 'LAMBDA' || 'subquery' in value) safe = false;
    if (value.class === 'COLUMN_REF') {
      refs++;
      const parts = Array.isArray(value.column_names) ? value.column_names.map(String) : [];
      const column = resolveRef(parts);
      if (column === undefined) safe = false;
      return { ...value, column_names: [column ?? ''] };
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  };
  const result = copy(conjunct);
  return safe && refs > 0 && isObject(result) ? result : undefined;
}

function callArguments(fn: AstNode): CallArguments {
  const children = Array.isArray(fn.children) ? (fn.children as unknown[]) : [];
  let path: string | undefined;
  let version: number | undefined;
  let timestamp: string | undefined;
  for (const [i, child] of children.entries()) {
    const arg = isObject(child) ? child : {};
    const name = typeof arg.alias === 'string' ? arg.alias.toLowerCase() : '';
    if (name === '' || name === 'path') {
      if ((name === '' && i !== 0) || path !== undefined) {
        throw new LarderError('INVALID_ARGUMENT', `${READ_DELTA} takes one path, as its first argument`, {
          hint: "name the others: read_delta('path', version => 3)",
        });
      }
      const value = constantValue(arg);
      if (typeof value !== 'string') {
        throw new LarderError('INVALID_ARGUMENT', `${READ_DELTA} argument "path" must be a string literal`);
      }
      path = value;
    } else if (name === 'version') {
      const value = constantValue(arg);
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || !isIntegerConstant(arg)) {
        throw new LarderError(
          'INVALID_ARGUMENT',
          `${READ_DELTA} argument "version" must be a non-negative integer literal`,
        );
      }
      version = value;
    } else if (name === 'timestamp') {
      const value = constantValue(arg);
      if (typeof value !== 'string') {
        throw new LarderError(
          'INVALID_ARGUMENT',
          `${READ_DELTA} argument "timestamp" must be a timestamp literal, e.g. '2024-05-01 12:00:00'`,
        );
      }
      timestamp = value;
    } else {
      throw new LarderError('INVALID_ARGUMENT', `${READ_DELTA} has no argument "${name}"`, {
        hint: "its arguments are the path, version => n and timestamp => 'literal'",
      });
    }
  }
  if (path === undefined) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `${READ_DELTA} needs a table path: read_delta('path/to/table')`,
    );
  }
  if (version !== undefined && timestamp !== undefined) {
    throw new LarderError('INVALID_ARGUMENT', `${READ_DELTA} takes "version" or "timestamp", not both`, {
      table: path,
    });
  }
  return { path, version, timestamp };
}

/** The value of a literal argument, also through a cast (`TIMESTAMP '…'`); undefined if not a literal. */
function constantValue(arg: AstNode): unknown {
  if (arg.class === 'CAST' && isObject(arg.child)) return constantValue(arg.child);
  if (arg.class !== 'CONSTANT' || !isObject(arg.value) || arg.value.is_null) return undefined;
  return arg.value.value;
}

function isIntegerConstant(arg: AstNode): boolean {
  if (arg.class === 'CAST' && isObject(arg.child)) return isIntegerConstant(arg.child);
  const type = isObject(arg.value) && isObject(arg.value.type) ? String(arg.value.type.id) : '';
  return /^U?(TINYINT|SMALLINT|INTEGER|BIGINT)$/.test(type);
}
