/**
 * The bits of Spark/Databricks SQL the seed's queries use that DuckDB
 * spells differently, rewritten in the text before DuckDB parses it:
 *
 * - backtick-quoted identifiers (`` `my table` ``) become double-quoted;
 * - `TIMESTAMPDIFF(unit, start, end)` and the three-argument
 *   `DATEDIFF(unit, start, end)`, whose unit is a bare keyword, become
 *   `date_sub('unit', start, end)`: whole units elapsed, truncated, as Spark
 *   counts them (DuckDB's `date_diff` counts unit boundaries crossed instead);
 * - the two-argument `DATEDIFF(end, start)` (days between dates) becomes
 *   `date_diff('day', CAST(start AS DATE), CAST(end AS DATE))`;
 * - `TIMESTAMPADD(unit, n, ts)` / `DATEADD(unit, n, ts)` become
 *   `(ts + to_<unit>s(n))`.
 *
 * `DATE(x)` needs nothing: DuckDB reads it as a cast to DATE.
 *
 * It works on a statement's tokens and gives the next stage the rewritten
 * statement's tokens (`sparkToDuckDb`): the text is not scanned again.
 *
 * Invariant: only calls are rewritten (a name followed by `(`, not qualified
 * by a schema); strings, comments and quoted identifiers are never touched.
 * DuckDB's own forms (`datediff('day', a, b)` with a string unit) are left
 * as they are.
 */
import { sqlIdent } from '../duckdb/duckdb.js';
import { LarderError } from '../errors.js';
import { SqlTokenBuilder } from './sql-token-builder.js';
import { isSignificant, type SqlToken, type TokenizedSql, tokenizeSql } from './sql-tokenizer.js';

/** Spark unit keywords → the unit names DuckDB's date functions take, and the interval constructor. */
const UNITS: ReadonlyMap<string, { readonly part: string; readonly interval: string }> = new Map(
  (
    [
      ['microsecond', 'microseconds', 'to_microseconds'],
      ['millisecond', 'milliseconds', 'to_milliseconds'],
      ['second', 'second', 'to_seconds'],
      ['minute', 'minute', 'to_minutes'],
      ['hour', 'hour', 'to_hours'],
      ['day', 'day', 'to_days'],
      ['week', 'week', 'to_weeks'],
      ['month', 'month', 'to_months'],
      ['quarter', 'quarter', 'to_quarters'],
      ['year', 'year', 'to_years'],
    ] as const
  ).flatMap(([unit, part, interval]) => [
    [unit, { part, interval }],
    [`${unit}s`, { part, interval }],
  ]),
);

const FUNCTIONS = new Set(['timestampdiff', 'datediff', 'timestampadd', 'dateadd']);

/**
 * Rewrite Spark spellings in `sql` to DuckDB's.
 *
 * @example
 * toDuckDbDialect('SELECT TIMESTAMPDIFF(MINUTE, a, b) FROM `t`');
 * // SELECT date_sub('minute', a, b) FROM "t"
 */
export function toDuckDbDialect(sql: string): string {
  return sparkToDuckDb(tokenizeSql(sql)).text;
}

/**
 * Rewrite Spark spellings in a tokenized statement to DuckDB's, in one pass
 * over its tokens: the result comes with its own tokens, for the next stage.
 * Nested calls compose: a call's arguments are rewritten before the call.
 *
 * @example
 * const { text, tokens } = sparkToDuckDb(tokenizeSql('SELECT `a b` FROM t'));
 * // text: 'SELECT "a b" FROM t'
 */
export function sparkToDuckDb(sql: TokenizedSql): TokenizedSql {
  const { tokens } = sql;
  if (
    !tokens.some((t) => t.kind === 'backtick' || (t.kind === 'word' && FUNCTIONS.has(t.text.toLowerCase())))
  )
    return sql;
  const out = new SqlTokenBuilder();
  rewriteRange(tokens, 0, tokens.length, out);
  return out.build();
}

/** Rewrite `tokens[from, to)` into `out`. */
function rewriteRange(tokens: readonly SqlToken[], from: number, to: number, out: SqlTokenBuilder): void {
  let previous: SqlToken | undefined;
  for (let i = from; i < to; i++) {
    const token = tokens[i]!;
    if (token.kind === 'backtick') {
      out.push({ kind: 'quoted', text: sqlIdent(token.text.slice(1, -1).replaceAll('``', '`')) });
    } else if (
      token.kind === 'word' &&
      FUNCTIONS.has(token.text.toLowerCase()) &&
      previous?.text !== '.' &&
      tokens[nextSignificant(tokens, i + 1, to)]?.text === '('
    ) {
      const call = callAt(tokens, i, to);
      if (call) {
        writeCall(call, out);
        i = call.close;
      } else out.push(token);
    } else out.push(token);
    if (isSignificant(token)) previous = token;
  }
}

function nextSignificant(tokens: readonly SqlToken[], from: number, to: number): number {
  let i = from;
  while (i < to && !isSignificant(tokens[i]!)) i++;
  return i;
}

interface Call {
  readonly name: string;
  /** Token index of the function name. */
  readonly nameIndex: number;
  /** Token index of the `(` and of the matching `)`. */
  readonly open: number;
  readonly close: number;
  /** Each argument's significant tokens' range `[first, last]` of token indices (empty argument: undefined). */
  readonly args: readonly ({ readonly first: number; readonly last: number } | undefined)[];
  readonly tokens: readonly SqlToken[];
}

/** The call whose name is `tokens[nameIndex]`, or undefined if it is not closed before `to`. */
function callAt(tokens: readonly SqlToken[], nameIndex: number, to: number): Call | undefined {
  const open = nextSignificant(tokens, nameIndex + 1, to);
  const args: ({ first: number; last: number } | undefined)[] = [];
  let current: { first: number; last: number } | undefined;
  let depth = 0;
  for (let i = open + 1; i < to; i++) {
    const token = tokens[i]!;
    if (!isSignificant(token)) continue;
    const punct = token.kind === 'punct' ? token.text : '';
    if (depth === 0 && punct === ')') {
      if (current !== undefined || args.length > 0) args.push(current);
      return { name: tokens[nameIndex]!.text.toLowerCase(), nameIndex, open, close: i, args, tokens };
    }
    if (depth === 0 && punct === ',') {
      args.push(current);
      current = undefined;
      continue;
    }
    if (punct === '(' || punct === '[' || punct === '{') depth++;
    else if (punct === ')' || punct === ']' || punct === '}') depth--;
    current = { first: current?.first ?? i, last: i };
  }
  return undefined;
}

/** Whether DuckDB would not understand the call as it is. */
function isSparkForm(call: Call): boolean {
  if (call.name === 'datediff' && call.args.length === 2) return true;
  const unit = call.args[0];
  return (
    call.args.length === 3 &&
    unit !== undefined &&
    unit.first === unit.last &&
    call.tokens[unit.first]!.kind === 'word'
  );
}

/** Write the call, its arguments rewritten, in DuckDB's spelling when it is a Spark form. */
function writeCall(call: Call, out: SqlTokenBuilder): void {
  const { tokens } = call;
  if (!isSparkForm(call)) {
    // DuckDB's own form: keep it, rewriting inside its arguments.
    out.pushAll(tokens.slice(call.nameIndex, call.open + 1));
    rewriteRange(tokens, call.open + 1, call.close, out);
    out.push(tokens[call.close]!);
    return;
  }
  const arg = (n: number) => () => {
    const range = call.args[n];
    if (range) rewriteRange(tokens, range.first, range.last + 1, out);
  };
  const [first, second, third] = [arg(0), arg(1), arg(2)];
  if (call.name === 'datediff' && call.args.length === 2) {
    out.write("date_diff('day', CAST((");
    second();
    out.write(') AS DATE), CAST((');
    first();
    out.write(') AS DATE))');
    return;
  }
  const unitText = tokens[call.args[0]!.first]!.text;
  const unit = UNITS.get(unitText.toLowerCase());
  if (!unit) {
    throw new LarderError(
      'UNSUPPORTED_FEATURE',
      `${call.name.toUpperCase()} unit ${unitText} is not supported`,
      {
        feature: call.name,
        hint: `units: ${[...new Set([...UNITS.values()].map((u) => u.part))].join(', ')}`,
      },
    );
  }
  if (call.name === 'timestampdiff' || call.name === 'datediff') {
    out.write(`date_sub('${unit.part}', `);
    second();
    out.write(', ');
    third();
    out.write(')');
    return;
  }
  out.write('((');
  third();
  out.write(`) + ${unit.interval}(`);
  second();
  out.write('))');
}
