/**
 * Rewriting the qualifiers of column references in SQL expressions, token
 * by token: MERGE's conditions and expressions name the target and source
 * by the user's aliases (or table names), while `mergeTable` evaluates them
 * over `t` and `s`; UPDATE and DELETE conditions may qualify columns with
 * the table's alias, which the operations (over the bare table) do not know.
 *
 * Invariants: only dotted chains of identifiers are touched (never strings,
 * comments or the member part of a chain); the longest matching qualifier
 * wins; qualifiers compare case-insensitively, as Spark resolves names.
 */
import { isSignificant, type SqlToken, tokenize } from '../../engine/sql-tokenizer.js';

/** Chains qualified by any of `qualifiers` get `replacement` as their qualifier ('' drops it). */
export interface QualifierRule {
  readonly qualifiers: readonly (readonly string[])[];
  readonly replacement: string;
  /**
   * The qualifier inside a subquery (default `replacement`): there a column
   * of the outer table must stay qualified, or it would bind to the
   * subquery's own column of the same name.
   */
  readonly nested?: string;
}

/** Words after which a dotted chain names a table, not a column. */
const TABLE_POSITION = new Set(['from', 'join', 'update', 'into', 'table', 'using']);

/** Words that open a subquery right after a parenthesis. */
const SUBQUERY_START = new Set(['select', 'with', 'from', 'values']);

function identifierValue(token: SqlToken): string | undefined {
  if (token.kind === 'word') return token.text.toLowerCase();
  if (token.kind === 'quoted') return token.text.slice(1, -1).replaceAll('""', '"').toLowerCase();
  return undefined;
}

/**
 * `sql` with every column reference qualified by one of a rule's qualifiers
 * re-qualified by the rule's replacement.
 *
 * @example
 * requalify('tgt.id = src.id AND src.v > 0', [
 *   { qualifiers: [['tgt']], replacement: 't' },
 *   { qualifiers: [['src']], replacement: 's' },
 * ]); // 't.id = s.id AND s.v > 0'
 */
export function requalify(sql: string, rules: readonly QualifierRule[]): string {
  const tokens = tokenize(sql).filter(isSignificant);
  const edits: { start: number; end: number; text: string }[] = [];
  // One entry per open parenthesis: whether it opens a subquery.
  const groups: boolean[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const first = tokens[i]!;
    if (first.kind === 'punct' && first.text === '(') {
      const next = tokens[i + 1];
      groups.push(next?.kind === 'word' && SUBQUERY_START.has(next.text.toLowerCase()));
      continue;
    }
    if (first.kind === 'punct' && first.text === ')') {
      groups.pop();
      continue;
    }
    if (identifierValue(first) === undefined) continue;
    const previous = tokens[i - 1];
    if (previous?.kind === 'punct' && previous.text === '.') continue;
    const tableName = previous?.kind === 'word' && TABLE_POSITION.has(previous.text.toLowerCase());
    // The chain: identifier (. identifier)*
    const chain: SqlToken[] = [first];
    let j = i + 1;
    while (
      tokens[j]?.kind === 'punct' &&
      tokens[j]!.text === '.' &&
      tokens[j + 1] &&
      identifierValue(tokens[j + 1]!) !== undefined
    ) {
      chain.push(tokens[j + 1]!);
      j += 2;
    }
    i = j - 1;
    if (chain.length < 2 || tableName) continue;
    const nested = groups.includes(true);
    let best: { length: number; replacement: string } | undefined;
    for (const rule of rules) {
      for (const qualifier of rule.qualifiers) {
        if (qualifier.length >= chain.length || (best && best.length >= qualifier.length)) continue;
        if (qualifier.every((part, k) => part.toLowerCase() === identifierValue(chain[k]!))) {
          best = {
            length: qualifier.length,
            replacement: nested ? (rule.nested ?? rule.replacement) : rule.replacement,
          };
        }
      }
    }
    if (!best) continue;
    // Replace the qualifier and the dot after it.
    const end = chain[best.length]!.start;
    edits.push({ start: first.start, end, text: best.replacement === '' ? '' : `${best.replacement}.` });
  }
  let out = sql;
  for (const edit of edits.reverse()) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return out;
}

/** The qualifiers a table can be referred to by: its alias, or every suffix of its name. */
export function qualifiersOf(name: readonly string[], alias?: string): string[][] {
  if (alias !== undefined) return [[alias]];
  return name.map((_, i) => name.slice(i));
}

/**
 * Split a join condition over `t` and `s` into equalities of same-named
 * columns (`t.k = s.k`, usable as merge keys) and the rest. When the
 * condition is not a plain conjunction (a top-level OR, BETWEEN or CASE),
 * everything is the rest.
 *
 * @example
 * splitKeyEqualities('t.id = s.id AND t.day >= s.day'); // { keys: ['id'], rest: 't.day >= s.day' }
 */
export function splitKeyEqualities(condition: string): { keys: string[]; rest: string | undefined } {
  const tokens = tokenize(condition).filter(isSignificant);
  const conjuncts: SqlToken[][] = [[]];
  let depth = 0;
  for (const token of tokens) {
    if (token.kind === 'punct' && (token.text === '(' || token.text === '[')) depth++;
    else if (token.kind === 'punct' && (token.text === ')' || token.text === ']')) depth--;
    const word = token.kind === 'word' ? token.text.toUpperCase() : '';
    if (depth === 0 && (word === 'OR' || word === 'BETWEEN' || word === 'CASE')) {
      return { keys: [], rest: condition.trim() };
    }
    if (depth === 0 && word === 'AND') conjuncts.push([]);
    else conjuncts.at(-1)!.push(token);
  }
  const keys: string[] = [];
  const rest: string[] = [];
  for (const conjunct of conjuncts) {
    const key = keyEquality(conjunct);
    if (key !== undefined && !keys.some((k) => k.toLowerCase() === key.toLowerCase())) keys.push(key);
    else if (conjunct.length > 0) rest.push(condition.slice(conjunct[0]!.start, conjunct.at(-1)!.end));
  }
  return { keys, rest: rest.length > 0 ? rest.join(' AND ') : undefined };
}

/** The column of a `t.c = s.c` (or `s.c = t.c`) conjunct, or undefined. */
function keyEquality(tokens: readonly SqlToken[]): string | undefined {
  if (tokens.length !== 7) return undefined;
  const [q1, d1, c1, eq, q2, d2, c2] = tokens as [
    SqlToken,
    SqlToken,
    SqlToken,
    SqlToken,
    SqlToken,
    SqlToken,
    SqlToken,
  ];
  if (d1.text !== '.' || d2.text !== '.' || eq.text !== '=') return undefined;
  const sides = new Set([q1.text, q2.text]);
  if (!(sides.has('t') && sides.has('s'))) return undefined;
  const a = identifierValue(c1);
  const b = identifierValue(c2);
  if (a === undefined || a !== b) return undefined;
  return c1.kind === 'quoted' ? c1.text.slice(1, -1).replaceAll('""', '"') : c1.text;
}
