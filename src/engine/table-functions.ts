/**
 * The table functions of Larder SQL and their arguments, read from DuckDB's
 * parse tree:
 *
 * - `read_delta(path [, version => n | timestamp => '…'])`: a Delta table by
 *   folder;
 * - `table_changes('table name', start [, end])` (Databricks): the change
 *   data feed of a registered table between two versions or timestamps.
 *
 * Arguments must be literals: they choose which files the statement reads,
 * which is decided before DuckDB runs anything.
 */
import { LarderError } from '../errors.js';
import { type AstNode, constantValue, isIntegerConstant, isObject } from './sql-ast.js';
import { SqlTokenBuilder } from './sql-token-builder.js';
import { isSignificant, parenthesizedEnd, type SqlToken, type TokenizedSql } from './sql-tokenizer.js';

/** The function name Larder SQL reserves for reading a Delta folder; also the alias of unaliased calls. */
export const READ_DELTA = 'read_delta';

/** Databricks' change data feed function. */
export const TABLE_CHANGES = 'table_changes';

/** The arguments of a `read_delta` call. */
export interface ReadDeltaArguments {
  readonly path: string;
  readonly version: number | undefined;
  readonly timestamp: string | undefined;
}

/** A bound of a `table_changes` range: a version, or a timestamp literal. */
export type ChangeBound = { readonly version: number } | { readonly timestamp: string };

/** The arguments of a `table_changes` call. */
export interface TableChangesArguments {
  readonly table: string;
  readonly start: ChangeBound;
  readonly end: ChangeBound | undefined;
}

/** The (lower-case) name of a table function node's function, or '' for a qualified one. */
export function tableFunctionName(node: AstNode): string {
  if (node.type !== 'TABLE_FUNCTION' || !isObject(node.function)) return '';
  const fn = node.function;
  if (fn.schema || fn.catalog) return '';
  return typeof fn.function_name === 'string' ? fn.function_name.toLowerCase() : '';
}

function childrenOf(fn: AstNode): AstNode[] {
  const children = Array.isArray(fn.children) ? (fn.children as unknown[]) : [];
  return children.map((c) => (isObject(c) ? c : {}));
}

/**
 * The arguments of a `read_delta` call (its `function` node). Throws
 * `INVALID_ARGUMENT` naming the argument at fault.
 */
export function readDeltaArguments(fn: AstNode): ReadDeltaArguments {
  let path: string | undefined;
  let version: number | undefined;
  let timestamp: string | undefined;
  for (const [i, arg] of childrenOf(fn).entries()) {
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
      version = versionLiteral(arg, `${READ_DELTA} argument "version"`);
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

/**
 * The arguments of a `table_changes` call (its `function` node). Throws
 * `INVALID_ARGUMENT` naming the argument at fault.
 */
export function tableChangesArguments(fn: AstNode): TableChangesArguments {
  const args = childrenOf(fn);
  const usage = "table_changes('catalog.schema.table', start [, end]) with versions or timestamp literals";
  const named = args.find((a) => typeof a.alias === 'string' && a.alias !== '');
  if (named || args.length < 2 || args.length > 3) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `${TABLE_CHANGES} takes a table name, a start and an optional end`,
      {
        hint: usage,
      },
    );
  }
  const table = constantValue(args[0]!);
  if (typeof table !== 'string') {
    throw new LarderError('INVALID_ARGUMENT', `${TABLE_CHANGES} argument "table" must be a string literal`, {
      hint: usage,
    });
  }
  const bound = (arg: AstNode, what: string): ChangeBound => {
    const value = constantValue(arg);
    if (typeof value === 'string') return { timestamp: value };
    return { version: versionLiteral(arg, `${TABLE_CHANGES} argument "${what}"`) };
  };
  return {
    table,
    start: bound(args[1]!, 'start'),
    end: args[2] === undefined ? undefined : bound(args[2], 'end'),
  };
}

function versionLiteral(arg: AstNode, what: string): number {
  const value = constantValue(arg);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || !isIntegerConstant(arg)) {
    throw new LarderError('INVALID_ARGUMENT', `${what} must be a non-negative integer literal`);
  }
  return value;
}

/** Whether `token` is the (possibly quoted) bare name `name`. */
export function isFunctionName(token: SqlToken, name: string): boolean {
  if (token.kind === 'word') return token.text.toLowerCase() === name;
  if (token.kind === 'quoted') return token.text.slice(1, -1).replaceAll('""', '"').toLowerCase() === name;
  return false;
}

/** The name tokens of calls to `name` in the text: the name followed by `(`, not qualified. */
export function findCalls(tokens: readonly SqlToken[], name: string): SqlToken[] {
  const significant = tokens.filter(isSignificant);
  return significant.filter(
    (token, i) =>
      isFunctionName(token, name) && significant[i + 1]?.text === '(' && significant[i - 1]?.text !== '.',
  );
}

/**
 * `timestamp` is a type keyword, so DuckDB's parser rejects `timestamp => …`
 * as a named argument; quoting it (`"timestamp" => …`) inside `read_delta`
 * calls lets the call parse. The call's text is replaced afterwards anyway.
 */
export function quoteReadDeltaTimestamp(statement: TokenizedSql): TokenizedSql {
  const { text, tokens } = statement;
  if (!/timestamp/i.test(text)) return statement;
  const significant = tokens.filter(isSignificant);
  const targets: SqlToken[] = [];
  for (const call of findCalls(tokens, READ_DELTA)) {
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
  if (targets.length === 0) return statement;
  const quoted = new Set(targets);
  const out = new SqlTokenBuilder();
  for (const token of tokens)
    out.push(quoted.has(token) ? { kind: 'quoted', text: `"${token.text}"` } : token);
  return out.build();
}
