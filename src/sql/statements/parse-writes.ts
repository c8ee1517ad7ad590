import { parseTimeTravel } from './parse-clauses.js';
import { type ParseContext, QUERY_STARTS } from './parse-context.js';
import type { Assignment, MergeClause, MergeStatement, Statement } from './statement.js';

export function parseInsert(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('INSERT');
  if (c.isKeyword('OR')) return p.query();
  const overwrite = c.acceptOneOf('INTO', 'OVERWRITE') === 'OVERWRITE';
  if (!overwrite && c.index === 1) throw c.error('expected INTO or OVERWRITE after INSERT');
  c.acceptKeyword('TABLE');
  const name = c.qualifiedName('the table to insert into');
  return p.forTable(name, () => {
    if (c.isKeyword('PARTITION'))
      throw c.unsupported(
        'INSERT … PARTITION (…)',
        'filter with WHERE in the query; the partition values come from the rows',
      );
    if (c.isKeyword('REPLACE'))
      throw c.unsupported(
        `INSERT … REPLACE ${c.peek(1)?.text.toUpperCase() ?? ''}`.trim(),
        'DELETE the rows, then INSERT',
      );
    if (c.isKeywords('DEFAULT', 'VALUES')) throw c.unsupported('INSERT … DEFAULT VALUES');
    const byName = c.acceptKeyword('BY', 'NAME');
    let columns: string[] | undefined;
    if (
      !byName &&
      c.isPunct('(') &&
      !QUERY_STARTS.has(c.peek(1)?.text.toUpperCase() ?? '') &&
      !c.isPunct('(', 1)
    ) {
      columns = c.parenthesizedList(() => c.identifier('a column name'), 'insert column list');
    }
    const first = c.peek();
    if (
      !first ||
      !(QUERY_STARTS.has(first.text.toUpperCase()) || (first.kind === 'punct' && first.text === '('))
    ) {
      throw c.error('expected a query or VALUES');
    }
    if (c.findTopLevelKeyword('RETURNING') < c.tokens.length) throw c.unsupported('INSERT … RETURNING');
    const onConflict = c.findTopLevel(
      (t, i) => t.text.toUpperCase() === 'ON' && c.tokens[i + 1]?.text.toUpperCase() === 'CONFLICT',
    );
    if (onConflict < c.tokens.length) throw c.unsupported('INSERT … ON CONFLICT', 'use MERGE INTO');
    const query = c.rest('a query');
    return {
      kind: 'insert',
      ...p.source,
      name,
      overwrite,
      byName,
      ...(columns ? { columns } : {}),
      query,
    };
  });
}

export function parseMerge(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('MERGE');
  if (c.isKeywords('WITH', 'SCHEMA', 'EVOLUTION')) {
    throw c.unsupported('MERGE WITH SCHEMA EVOLUTION', 'add the new columns to the table first');
  }
  c.expectKeyword('INTO');
  const target = c.qualifiedName('the target table');
  return p.forTable(target, () => {
    const targetAlias = parseAlias(p, ['USING']);
    c.expectKeyword('USING');
    let source: MergeStatement['source'];
    if (c.isPunct('(')) {
      const open = c.index;
      c.next();
      const close = c.findTopLevel((t) => t.kind === 'punct' && t.text === ')');
      if (close >= c.tokens.length) throw c.error('the source query is never closed with ")"');
      const query = c.takeSpan(close, 'a source query');
      c.expectPunct(')');
      if (c.index - open <= 2) throw c.error('expected a source query');
      source = { kind: 'query', query };
    } else {
      const start = c.index;
      const name = c.qualifiedName('the source table');
      if (c.isPunct('(')) {
        // A table function call (read_delta('…'), read_parquet('…')): keep it whole.
        c.next();
        const close = c.findTopLevel((t) => t.kind === 'punct' && t.text === ')');
        if (close >= c.tokens.length) throw c.error('the source call is never closed with ")"');
        c.index = close + 1;
      }
      parseTimeTravel(c);
      source = { kind: 'table', text: c.span(start, c.index), name };
    }
    const sourceAlias = parseAlias(p, ['ON']);
    c.expectKeyword('ON');
    const on = c.takeSpan(c.findTopLevelKeyword('WHEN'), 'a merge condition after ON');
    const clauses: MergeClause[] = [];
    while (c.acceptKeyword('WHEN')) clauses.push(parseMergeClause(p));
    if (clauses.length === 0) throw c.error('expected WHEN MATCHED or WHEN NOT MATCHED');
    c.expectEnd();
    return {
      kind: 'merge',
      ...p.source,
      target,
      ...(targetAlias !== undefined ? { targetAlias } : {}),
      source,
      ...(sourceAlias !== undefined ? { sourceAlias } : {}),
      on,
      clauses,
    };
  });
}

/** An optional `[AS] alias` before one of the words `before`. */
function parseAlias(p: ParseContext, before: readonly string[]): string | undefined {
  const c = p.c;
  if (c.acceptKeyword('AS')) return c.identifier('an alias');
  if (c.isIdentifier() && !before.some((w) => c.isKeyword(w))) return c.identifier('an alias');
  return undefined;
}

function parseMergeClause(p: ParseContext): MergeClause {
  const c = p.c;
  const notMatched = c.acceptKeyword('NOT');
  c.expectKeyword('MATCHED');
  if (notMatched && c.isKeywords('BY', 'SOURCE')) {
    throw c.unsupported(
      'WHEN NOT MATCHED BY SOURCE',
      'delete or update the target rows the source lacks with a separate DELETE/UPDATE',
    );
  }
  if (notMatched) c.acceptKeyword('BY', 'TARGET');
  let condition: string | undefined;
  if (c.acceptKeyword('AND'))
    condition = c.takeSpan(c.findTopLevelKeyword('THEN'), 'a clause condition after AND');
  c.expectKeyword('THEN');
  const stop = () => c.findTopLevelKeyword('WHEN');
  if (!notMatched) {
    if (c.acceptKeyword('DELETE'))
      return { when: 'matched', action: 'delete', ...(condition !== undefined ? { condition } : {}) };
    c.expectKeyword('UPDATE', 'SET');
    if (c.acceptPunct('*'))
      return { when: 'matched', action: 'update', ...(condition !== undefined ? { condition } : {}) };
    const set = parseAssignments(p, stop());
    return { when: 'matched', action: 'update', set, ...(condition !== undefined ? { condition } : {}) };
  }
  if (c.isKeyword('UPDATE') || c.isKeyword('DELETE')) throw c.error('WHEN NOT MATCHED can only INSERT');
  c.expectKeyword('INSERT');
  if (c.acceptPunct('*'))
    return { when: 'notMatched', action: 'insert', ...(condition !== undefined ? { condition } : {}) };
  const columns = c.parenthesizedList(() => c.qualifiedName('a column name'), 'insert column list');
  c.expectKeyword('VALUES');
  c.expectPunct('(', 'to open the VALUES list');
  const close = c.findTopLevel((t) => t.kind === 'punct' && t.text === ')');
  const values = parseExpressionList(p, close, 'VALUES');
  c.expectPunct(')', 'to close the VALUES list');
  if (values.length !== columns.length) {
    throw c.error(`INSERT names ${columns.length} columns but VALUES has ${values.length} expressions`);
  }
  return {
    when: 'notMatched',
    action: 'insert',
    columns,
    values,
    ...(condition !== undefined ? { condition } : {}),
  };
}

/** Comma-separated expressions up to token `end` (a trailing comma accepted). */
function parseExpressionList(p: ParseContext, end: number, what: string): string[] {
  const c = p.c;
  const values: string[] = [];
  while (c.index < end) {
    const comma = Math.min(
      end,
      c.findTopLevel((t) => t.kind === 'punct' && t.text === ','),
    );
    values.push(c.takeSpan(comma, `an expression in ${what}`));
    if (c.index < end) c.expectPunct(',');
  }
  return values;
}

/** `col = expr, …` up to token `end`. */
function parseAssignments(p: ParseContext, end: number): Assignment[] {
  const c = p.c;
  const set: Assignment[] = [];
  while (c.index < end) {
    const column = c.qualifiedName('a column to set');
    c.expectPunct('=', `after the column ${column.join('.')}`);
    const comma = Math.min(
      end,
      c.findTopLevel((t) => t.kind === 'punct' && t.text === ','),
    );
    const expression = c.takeSpan(comma, `a value for ${column.join('.')}`);
    set.push({ column, expression });
    if (c.index < end) {
      c.expectPunct(',');
      if (c.index >= end) break;
    }
  }
  if (set.length === 0) throw c.error('expected col = value after SET');
  return set;
}

export function parseUpdate(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('UPDATE');
  const name = c.qualifiedName('the table to update');
  return p.forTable(name, () => {
    const alias = parseAlias(p, ['SET']);
    c.expectKeyword('SET');
    const end = c.findTopLevelKeyword('WHERE', 'FROM', 'RETURNING');
    const set = parseAssignments(p, end);
    if (c.isKeyword('FROM'))
      throw c.unsupported('UPDATE … FROM', 'use MERGE INTO … USING … WHEN MATCHED THEN UPDATE');
    if (c.isKeyword('RETURNING')) throw c.unsupported('UPDATE … RETURNING');
    let where: string | undefined;
    if (c.acceptKeyword('WHERE')) where = c.rest('a condition after WHERE');
    return {
      kind: 'update',
      ...p.source,
      name,
      set,
      ...(alias !== undefined ? { alias } : {}),
      ...(where !== undefined ? { where } : {}),
    };
  });
}

export function parseDelete(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('DELETE', 'FROM');
  const name = c.qualifiedName('the table to delete from');
  return p.forTable(name, () => {
    const alias = parseAlias(p, ['WHERE', 'USING', 'RETURNING']);
    if (c.isKeyword('USING'))
      throw c.unsupported('DELETE … USING', 'use MERGE INTO … WHEN MATCHED THEN DELETE');
    let where: string | undefined;
    if (c.acceptKeyword('WHERE')) {
      if (c.findTopLevelKeyword('RETURNING') < c.tokens.length) throw c.unsupported('DELETE … RETURNING');
      where = c.rest('a condition after WHERE');
    }
    c.expectEnd();
    return {
      kind: 'delete',
      ...p.source,
      name,
      ...(alias !== undefined ? { alias } : {}),
      ...(where !== undefined ? { where } : {}),
    };
  });
}

export function parseTruncate(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('TRUNCATE');
  c.acceptKeyword('TABLE');
  const name = c.qualifiedName('the table to truncate');
  return p.forTable(name, () => {
    if (c.isKeyword('PARTITION'))
      throw c.unsupported('TRUNCATE TABLE … PARTITION', 'use DELETE FROM … WHERE');
    c.expectEnd();
    return { kind: 'truncate', ...p.source, name };
  });
}
