import type { TimeTravel } from './statement.js';
import type { TokenCursor } from './token-cursor.js';

/** `VERSION AS OF n` or `TIMESTAMP AS OF '…'`, if present. */
export function parseTimeTravel(c: TokenCursor): TimeTravel | undefined {
  if (c.acceptKeyword('VERSION', 'AS', 'OF')) return { version: c.integer('the version') };
  if (c.acceptKeyword('TIMESTAMP', 'AS', 'OF')) return { timestamp: c.stringLiteral('the timestamp') };
  return undefined;
}

/** `(a, b)` — a parenthesized list of column names. */
export function parseColumnNames(c: TokenCursor, what: string): string[] {
  const names = c.parenthesizedList(() => c.qualifiedName('a column name').join('.'), `${what} columns`);
  if (names.length === 0) throw c.error(`${what} needs at least one column`);
  return names;
}

/** After `CLUSTER BY`: `(cols)`, or `NONE` (empty list). */
export function parseClusterColumns(c: TokenCursor): string[] {
  if (c.acceptKeyword('NONE')) return [];
  if (c.isKeyword('AUTO'))
    throw c.unsupported('CLUSTER BY AUTO', 'name the clustering columns: CLUSTER BY (col, …)');
  return parseColumnNames(c, 'CLUSTER BY');
}

/** `('k' = 'v', k2 = 3, …)`. Keys are strings or dotted names; values strings, numbers or words. */
export function parseProperties(c: TokenCursor): Record<string, string> {
  const properties: Record<string, string> = {};
  c.parenthesizedList(() => {
    const key = parsePropertyKey(c);
    c.acceptPunct('=');
    const token = c.peek();
    let value: string;
    if (token?.kind === 'string' || token?.kind === 'quoted') value = c.stringLiteral('the property value');
    else if (token?.kind === 'number' || token?.kind === 'word') {
      c.next();
      value = token.kind === 'word' ? token.text.toLowerCase() : token.text;
    } else if (token?.kind === 'punct' && token.text === '-' && c.peek(1)?.kind === 'number') {
      c.next();
      value = `-${c.next()!.text}`;
    } else throw c.error(`expected a value for property "${key}"`);
    properties[key] = value;
  }, 'property list');
  return properties;
}

export function parsePropertyKey(c: TokenCursor): string {
  const token = c.peek();
  if (token?.kind === 'string') return c.stringLiteral('a property key');
  return c.qualifiedName('a property key').join('.');
}
