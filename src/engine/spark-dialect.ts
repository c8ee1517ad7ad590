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
 * Invariant: only calls are rewritten (a name followed by `(`, not qualified
 * by a schema); strings, comments and quoted identifiers are never touched.
 * DuckDB's own forms (`datediff('day', a, b)` with a string unit) are left
 * as they are.
 */
import { sqlIdent } from '../duckdb/duckdb.js';
import { LarderError } from '../errors.js';
import { isSignificant, type SqlToken, tokenize } from './sql-tokenizer.js';

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
  let text = backticksToQuotes(sql);
  if (!/timestampdiff|datediff|timestampadd|dateadd/i.test(text)) return text;
  // Innermost-last first: after each rewrite the text is tokenized again, so nested calls compose.
  for (;;) {
    const significant = tokenize(text).filter(isSignificant);
    const call = lastCall(text, significant);
    if (!call) return text;
    text = text.slice(0, call.start) + rewriteCall(call) + text.slice(call.end);
  }
}

interface Call {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  /** Argument texts. */
  readonly args: readonly string[];
  /** Each argument's tokens, for recognising a bare unit keyword. */
  readonly argTokens: readonly (readonly SqlToken[])[];
}

function lastCall(text: string, tokens: readonly SqlToken[]): Call | undefined {
  for (let i = tokens.length - 2; i >= 0; i--) {
    const token = tokens[i]!;
    if (token.kind !== 'word' || !FUNCTIONS.has(token.text.toLowerCase())) continue;
    if (tokens[i + 1]?.text !== '(' || tokens[i - 1]?.text === '.') continue;
    const call = callAt(text, tokens, i);
    if (call && isSparkForm(call)) return call;
  }
  return undefined;
}

/** Whether DuckDB would not understand the call as it is. */
function isSparkForm(call: Call): boolean {
  if (call.name === 'datediff' && call.args.length === 2) return true;
  const unit = call.argTokens[0];
  return call.args.length === 3 && unit?.length === 1 && unit[0]!.kind === 'word';
}

/** The call whose name is `tokens[nameIndex]` (followed by `(`), or undefined if it is not closed. */
function callAt(text: string, tokens: readonly SqlToken[], nameIndex: number): Call | undefined {
  const argTokens: SqlToken[][] = [];
  let current: SqlToken[] = [];
  let depth = 0;
  for (let i = nameIndex + 2; i < tokens.length; i++) {
    const token = tokens[i]!;
    const punct = token.kind === 'punct' ? token.text : '';
    if (depth === 0 && punct === ')') {
      if (current.length > 0 || argTokens.length > 0) argTokens.push(current);
      const args = argTokens.map((arg) =>
        arg.length === 0 ? '' : text.slice(arg[0]!.start, arg.at(-1)!.end),
      );
      const name = tokens[nameIndex]!;
      return { name: name.text.toLowerCase(), start: name.start, end: token.end, args, argTokens };
    }
    if (depth === 0 && punct === ',') {
      argTokens.push(current);
      current = [];
      continue;
    }
    if (punct === '(' || punct === '[' || punct === '{') depth++;
    else if (punct === ')' || punct === ']' || punct === '}') depth--;
    current.push(token);
  }
  return undefined;
}

function rewriteCall(call: Call): string {
  const [first, second, third] = call.args;
  if (call.name === 'datediff' && call.args.length === 2) {
    return `date_diff('day', CAST((${second}) AS DATE), CAST((${first}) AS DATE))`;
  }
  const unitText = first!;
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
    return `date_sub('${unit.part}', ${second}, ${third})`;
  }
  return `((${third}) + ${unit.interval}(${second}))`;
}

/** Backtick-quoted identifiers as double-quoted ones; an unterminated backtick is left for DuckDB to report. */
function backticksToQuotes(sql: string): string {
  if (!sql.includes('`')) return sql;
  let out = '';
  let rest = sql;
  for (;;) {
    const tick = tokenize(rest).find((t) => t.kind === 'punct' && t.text === '`');
    if (!tick) return out + rest;
    let name = '';
    let j = tick.end;
    for (; j < rest.length; j++) {
      if (rest[j] === '`') {
        if (rest[j + 1] !== '`') break;
        j++;
      }
      name += rest[j];
    }
    if (j >= rest.length) return out + rest;
    out += rest.slice(0, tick.start) + sqlIdent(name);
    rest = rest.slice(j + 1);
  }
}
