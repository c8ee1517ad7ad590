/**
 * DuckDB's parse tree, as `json_serialize_sql` prints it: how the engine
 * finds the table references of a statement without a parser of its own.
 * Nodes carry `query_location`, the UTF-8 byte offset in the text where the
 * node starts (`UNKNOWN_LOCATION` for nodes the parser made up).
 *
 * `json_serialize_sql` serializes SELECT statements only (DESCRIBE and
 * SUMMARIZE count: they are SELECTs over a `SHOW_REF`); for the others it
 * answers "not implemented", which `parseSelect` reports as `notSelect`.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../duckdb/duckdb.js';
import { LarderError } from '../errors.js';

/** A JSON AST node as `json_serialize_sql` prints it. */
export type AstNode = Record<string, unknown>;

/** `query_location` of nodes with no place in the text: 2^64 - 1, which a JavaScript number rounds to 2^64. */
export const UNKNOWN_LOCATION = 2 ** 64;

/** What parsing one statement gave. */
export type ParseResult =
  | { readonly ok: true; readonly ast: AstNode }
  | { readonly ok: false; readonly notSelect: boolean; readonly message: string };

/**
 * Parse `text` (one statement) with DuckDB's parser.
 *
 * @example
 * const parsed = await parseSelect(connection, 'SELECT * FROM ml.s.t');
 * if (parsed.ok) for (const node of walk(parsed.ast)) console.log(node.type);
 */
export async function parseSelect(connection: DuckDBConnection, text: string): Promise<ParseResult> {
  let json: unknown;
  try {
    const reader = await connection.runAndReadAll(`SELECT json_serialize_sql(${sqlString(text)}) AS ast`);
    json = reader.getRowsJson()[0]?.[0];
  } catch (error) {
    // The connection refuses to run anything (an aborted transaction, …): say so, with DuckDB's words.
    throw new LarderError('SQL_ERROR', (error as Error).message, { statement: text, cause: error });
  }
  const ast = JSON.parse(typeof json === 'string' ? json : '{}') as AstNode;
  if (ast.error === false) return { ok: true, ast };
  return {
    ok: false,
    notSelect: ast.error_type === 'not implemented',
    message: String(ast.error_message ?? 'unknown parser error'),
  };
}

export function isObject(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every object of the AST, depth first. */
export function* walk(value: unknown): Generator<AstNode> {
  if (Array.isArray(value)) {
    for (const item of value) yield* walk(item);
  } else if (isObject(value)) {
    yield value;
    for (const child of Object.values(value)) yield* walk(child);
  }
}

/** Map UTF-8 byte offsets (DuckDB's `query_location`) to UTF-16 indices of `text`. */
export function byteToCharIndex(text: string): (byteOffset: number) => number {
  const outside = (offset: number) =>
    new LarderError('SQL_ERROR', `parser location ${offset} is not in the statement`);
  // ASCII text, the usual case: a byte offset is the index.
  if (/^[\x00-\x7f]*$/.test(text)) {
    return (offset) => {
      if (!Number.isInteger(offset) || offset < 0 || offset > text.length) throw outside(offset);
      return offset;
    };
  }
  // One slot per byte: the index of the character starting there, -1 inside a character.
  const starts = new Int32Array(Buffer.byteLength(text) + 1).fill(-1);
  let bytes = 0;
  for (let index = 0; index < text.length; ) {
    starts[bytes] = index;
    const code = text.codePointAt(index)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    index += code > 0xffff ? 2 : 1;
  }
  starts[bytes] = text.length;
  return (offset) => {
    const at = Number.isInteger(offset) ? (starts[offset] ?? -1) : -1;
    if (at < 0) throw outside(offset);
    return at;
  };
}

/** The value of a literal expression, also through a cast (`TIMESTAMP '…'`); undefined if not a literal. */
export function constantValue(arg: AstNode): unknown {
  if (arg.class === 'CAST' && isObject(arg.child)) return constantValue(arg.child);
  if (arg.class !== 'CONSTANT' || !isObject(arg.value) || arg.value.is_null) return undefined;
  return arg.value.value;
}

/** Whether a literal expression is of an integer type. */
export function isIntegerConstant(arg: AstNode): boolean {
  if (arg.class === 'CAST' && isObject(arg.child)) return isIntegerConstant(arg.child);
  const type = isObject(arg.value) && isObject(arg.value.type) ? String(arg.value.type.id) : '';
  return /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(type);
}
