/**
 * Time travel on a table reference, in the spellings users bring:
 *
 * - Databricks: `t [FOR] VERSION AS OF 3`, `t [FOR] TIMESTAMP AS OF '2024-05-01'`
 *   (also `SYSTEM_VERSION` / `SYSTEM_TIMESTAMP`), `t@v3`, `t@20240501000000000`;
 * - DuckDB: `t [alias] AT (VERSION => 3)`, `t AT (TIMESTAMP => '…')`.
 *
 * DuckDB's parser does not know the Databricks forms, so
 * `extractTemporalSpecs` takes them out of the text before parsing: each is
 * replaced by as many spaces as it had characters (every other offset stays
 * where it was) and remembered by the offset of the table name it follows.
 * DuckDB's own form parses (`at_clause` in the AST); `findAtClause` finds its
 * text so it can be removed when the reference is replaced.
 *
 * The version or timestamp is an expression (usually a literal) kept as SQL
 * text; the engine evaluates it with DuckDB.
 */
import { LarderError } from '../errors.js';
import { isSignificant, type SqlToken, type TokenizedSql, tokenizeSql } from './sql-tokenizer.js';

/** A time-travel clause of a table reference. */
export interface TemporalSpec {
  readonly kind: 'version' | 'timestamp';
  /** The version or timestamp, as a SQL expression. */
  readonly expression: string;
  /** Where the clause is in the text (UTF-16 indices, end exclusive). */
  readonly start: number;
  readonly end: number;
}

export interface TemporalExtraction extends TokenizedSql {
  /** The text with every Databricks time-travel clause blanked out (its tokens: `tokens`). */
  readonly text: string;
  /** The clauses, by the offset of the table name each follows. */
  readonly specs: ReadonlyMap<number, TemporalSpec>;
}

const VERSION_WORDS = new Set(['version', 'system_version']);
const TIMESTAMP_WORDS = new Set(['timestamp', 'system_timestamp']);
const TYPE_WORDS = new Set(['timestamp', 'timestamptz', 'timestamp_ntz', 'date']);
const NILADIC_WORDS = new Set(['current_timestamp', 'current_date', 'localtimestamp']);
const INTERVAL_UNITS = new Set(
  'microsecond millisecond second minute hour day week month quarter year'
    .split(' ')
    .flatMap((u) => [u, `${u}s`]),
);

/**
 * Take the Databricks time-travel clauses out of `sql`.
 *
 * @example
 * const { text, specs } = extractTemporalSpecs('SELECT * FROM ml.s.t VERSION AS OF 3 WHERE x = 1');
 * // text: 'SELECT * FROM ml.s.t                  WHERE x = 1'; specs.get(14): { kind: 'version', expression: '3', … }
 */
export function extractTemporalSpecs(statement: string | TokenizedSql): TemporalExtraction {
  const source = typeof statement === 'string' ? tokenizeSql(statement) : statement;
  const sql = source.text;
  const specs = new Map<number, TemporalSpec>();
  if (!/version|timestamp|@/i.test(sql)) return { ...source, specs };
  const tokens = source.tokens.filter(isSignificant);
  for (let i = 1; i < tokens.length; i++) {
    const found = databricksClause(sql, tokens, i) ?? atSignClause(tokens, i);
    if (!found) continue;
    const nameStart = nameStartBefore(tokens, found.nameEnd);
    if (nameStart === undefined) continue;
    specs.set(nameStart, found.spec);
    i = found.next - 1;
  }
  if (specs.size === 0) return { ...source, specs };
  // Each clause becomes one space token of its length: every other token keeps its offsets.
  const blanks = [...specs.values()].sort((a, b) => a.start - b.start);
  const parts: string[] = [];
  const kept: SqlToken[] = [];
  let next = 0;
  for (const token of source.tokens) {
    const blank = blanks[next];
    if (blank && token.start >= blank.start) {
      if (token.start < blank.end) {
        if (token.start === blank.start) {
          const text = ' '.repeat(blank.end - blank.start);
          kept.push({ kind: 'space', start: blank.start, end: blank.end, text });
          parts.push(text);
        }
        if (token.end >= blank.end) next++;
        continue;
      }
    }
    kept.push(token);
    parts.push(token.text);
  }
  return { text: parts.join(''), tokens: kept, specs };
}

interface Found {
  readonly spec: TemporalSpec;
  /** Index of the last token of the table name. */
  readonly nameEnd: number;
  /** Index of the first token after the clause. */
  readonly next: number;
}

/** `[FOR] VERSION|TIMESTAMP AS OF expr` starting at token `i`. */
function databricksClause(sql: string, tokens: readonly SqlToken[], i: number): Found | undefined {
  let k = i;
  if (word(tokens[k]) === 'for') k++;
  const unit = word(tokens[k]);
  const kind = VERSION_WORDS.has(unit) ? 'version' : TIMESTAMP_WORDS.has(unit) ? 'timestamp' : undefined;
  if (!kind || word(tokens[k + 1]) !== 'as' || word(tokens[k + 2]) !== 'of') return undefined;
  const before = tokens[i - 1];
  if (!isIdentifier(before) || word(before) === 'as') return undefined;
  const end = expressionEnd(tokens, k + 3);
  if (end === k + 3) {
    throw new LarderError(
      'INVALID_ARGUMENT',
      `${unit.toUpperCase()} AS OF needs a ${kind === 'version' ? 'version number' : 'timestamp'}`,
      { hint: kind === 'version' ? 'e.g. VERSION AS OF 3' : "e.g. TIMESTAMP AS OF '2024-05-01 12:00:00'" },
    );
  }
  return {
    spec: {
      kind,
      expression: sqlOf(sql, tokens, k + 3, end),
      start: tokens[i]!.start,
      end: tokens[end - 1]!.end,
    },
    nameEnd: i - 1,
    next: end,
  };
}

/** `@v3` or `@yyyyMMddHHmmssSSS` right after a name, without spaces. */
function atSignClause(tokens: readonly SqlToken[], i: number): Found | undefined {
  const at = tokens[i]!;
  const before = tokens[i - 1];
  const after = tokens[i + 1];
  if (at.text !== '@' || !isIdentifier(before) || !after) return undefined;
  if (before.end !== at.start || at.end !== after.start) return undefined;
  const version = /^v(\d+)$/i.exec(after.text);
  let spec: TemporalSpec | undefined;
  if (after.kind === 'word' && version) {
    spec = { kind: 'version', expression: version[1]!, start: at.start, end: after.end };
  } else if (after.kind === 'number' && /^\d{17}$/.test(after.text)) {
    const d = after.text;
    const iso = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)} ${d.slice(8, 10)}:${d.slice(10, 12)}:${d.slice(12, 14)}.${d.slice(14)}`;
    spec = { kind: 'timestamp', expression: `'${iso}'`, start: at.start, end: after.end };
  }
  return spec && { spec, nameEnd: i - 1, next: i + 2 };
}

/**
 * DuckDB's `AT (VERSION => …)` / `AT (TIMESTAMP => …)` clause of the table
 * reference whose name starts at `nameStart`: the first such clause after it.
 */
export function findAtClause(statement: string | TokenizedSql, nameStart: number): TemporalSpec | undefined {
  const { text, tokens: all } = typeof statement === 'string' ? tokenizeSql(statement) : statement;
  const tokens = all.filter((t) => isSignificant(t) && t.start >= nameStart);
  for (let i = 0; i + 3 < tokens.length; i++) {
    if (word(tokens[i]) !== 'at' || tokens[i + 1]!.text !== '(' || tokens[i + 3]!.text !== '=>') continue;
    const unit = word(tokens[i + 2]);
    const kind = unit === 'version' ? 'version' : unit === 'timestamp' ? 'timestamp' : undefined;
    if (!kind) continue;
    const close = matchingParen(tokens, i + 1);
    if (close === undefined) return undefined;
    return {
      kind,
      expression: sqlOf(text, tokens, i + 4, close),
      start: tokens[i]!.start,
      end: tokens[close]!.end,
    };
  }
  return undefined;
}

function word(token: SqlToken | undefined): string {
  return token?.kind === 'word' ? token.text.toLowerCase() : '';
}

function isIdentifier(token: SqlToken | undefined): token is SqlToken {
  return token?.kind === 'word' || token?.kind === 'quoted';
}

/** The token index where the dotted name ending at `end` starts, as a text offset. */
function nameStartBefore(tokens: readonly SqlToken[], end: number): number | undefined {
  let i = end;
  let parts = 1;
  while (parts < 3 && tokens[i - 1]?.text === '.' && isIdentifier(tokens[i - 2])) {
    i -= 2;
    parts++;
  }
  return tokens[i]?.start;
}

/** Index of the `)` matching the `(` at `open`. */
function matchingParen(tokens: readonly SqlToken[], open: number): number | undefined {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i]!.text === '(') depth++;
    else if (tokens[i]!.text === ')' && --depth === 0) return i;
  }
  return undefined;
}

/**
 * The end (exclusive token index) of the version/timestamp expression that
 * starts at `start`: terms (literals, typed literals, calls, parenthesized
 * groups, intervals, `CURRENT_TIMESTAMP`) joined by `+` / `-`, each
 * optionally cast with `::type`. It stops before anything else, such as
 * the reference's alias.
 */
function expressionEnd(tokens: readonly SqlToken[], start: number): number {
  let i = start;
  for (;;) {
    const next = termEnd(tokens, i);
    if (next === i) return i;
    i = next;
    while (tokens[i]?.text === '::' && isIdentifier(tokens[i + 1])) i += 2;
    if (tokens[i]?.text !== '+' && tokens[i]?.text !== '-') return i;
    if (termEnd(tokens, i + 1) === i + 1) return i;
    i++;
  }
}

function termEnd(tokens: readonly SqlToken[], i: number): number {
  const token = tokens[i];
  if (!token) return i;
  if (token.kind === 'string' || token.kind === 'number') return i + 1;
  if (token.text === '(') {
    const close = matchingParen(tokens, i);
    return close === undefined ? i : close + 1;
  }
  const w = word(token);
  if (w === '') return i;
  if (TYPE_WORDS.has(w) && tokens[i + 1]?.kind === 'string') return i + 2;
  if (w === 'interval') {
    const value = tokens[i + 1];
    if (value?.kind !== 'string' && value?.kind !== 'number') return i;
    return INTERVAL_UNITS.has(word(tokens[i + 2])) ? i + 3 : i + 2;
  }
  if (tokens[i + 1]?.text === '(') {
    const close = matchingParen(tokens, i + 1);
    return close === undefined ? i : close + 1;
  }
  return NILADIC_WORDS.has(w) ? i + 1 : i;
}

/** The text from token `from` to token `to` (exclusive). */
function sqlOf(text: string, tokens: readonly SqlToken[], from: number, to: number): string {
  return to <= from ? '' : text.slice(tokens[from]!.start, tokens[to - 1]!.end);
}
