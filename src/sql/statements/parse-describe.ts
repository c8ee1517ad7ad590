/**
 * Parsing the statements that describe (run by `execute-describe.ts`):
 * DESCRIBE [TABLE|DETAIL|HISTORY], DESCRIBE QUERY and SHOW SCHEMAS/CATALOGS/
 * TABLES/VIEWS/TBLPROPERTIES. `DESCRIBE <query>` is DuckDB's.
 */
import { SqlTokenBuilder } from '../../engine/sql-token-builder.js';
import { parsePropertyKey } from './parse-clauses.js';
import { type ParseContext, QUERY_STARTS } from './parse-context.js';
import type { Statement } from './statement.js';

export function parseDescribe(p: ParseContext): Statement {
  const c = p.c;
  c.next();
  if (c.acceptKeyword('QUERY')) {
    const from = c.peek()?.start ?? 0;
    c.rest('a query');
    const to = c.tokens.at(-1)!.end;
    const query = new SqlTokenBuilder()
      .write('DESCRIBE ')
      .pushAll(p.source.tokens.filter((t) => t.start >= from && t.end <= to))
      .build();
    return { kind: 'query', ...p.source, query };
  }
  const first = c.peek();
  if (!first || (QUERY_STARTS.has(first.text.toUpperCase()) && !c.isKeyword('TABLE')) || first.text === '(') {
    return p.query();
  }
  if (c.acceptKeyword('DETAIL')) {
    const name = c.qualifiedName('a table name');
    c.expectEnd();
    return { kind: 'describeDetail', ...p.source, name };
  }
  if (c.acceptKeyword('HISTORY')) {
    const name = c.qualifiedName('a table name');
    let limit: number | undefined;
    if (c.acceptKeyword('LIMIT')) limit = c.integer('the history limit');
    c.expectEnd();
    return { kind: 'describeHistory', ...p.source, name, ...(limit !== undefined ? { limit } : {}) };
  }
  if (c.isKeyword('SCHEMA') || c.isKeyword('DATABASE') || c.isKeyword('CATALOG') || c.isKeyword('FUNCTION')) {
    throw c.unsupported(`DESCRIBE ${c.peek()!.text.toUpperCase()}`, 'use SHOW SCHEMAS or SHOW TABLES');
  }
  const explicitTable = c.acceptKeyword('TABLE');
  const extended = c.acceptOneOf('EXTENDED', 'FORMATTED') !== undefined;
  const name = c.qualifiedName('a table name');
  if (!explicitTable && !extended && name.length === 1 && !c.atEnd) return p.query();
  return p.forTable(name, () => {
    if (!c.atEnd)
      throw c.unsupported('DESCRIBE TABLE … <column>', 'DESCRIBE the table and read the column row');
    return { kind: 'describeTable', ...p.source, name, extended };
  });
}

export function parseShow(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('SHOW');
  const like = (): { like?: string } => {
    if (c.acceptKeyword('LIKE')) return { like: c.stringLiteral('a LIKE pattern') };
    if (c.peek()?.kind === 'string') return { like: c.stringLiteral('a pattern') };
    return {};
  };
  if (c.acceptKeyword('SCHEMAS') || c.acceptKeyword('DATABASES')) {
    let catalog: string | undefined;
    if (c.acceptOneOf('IN', 'FROM')) catalog = c.identifier('a catalog name');
    const pattern = like();
    c.expectEnd();
    return {
      kind: 'showSchemas',
      ...p.source,
      ...(catalog !== undefined ? { catalog } : {}),
      ...pattern,
    };
  }
  if (c.acceptKeyword('CATALOGS')) {
    like();
    c.expectEnd();
    return { kind: 'showCatalogs', ...p.source };
  }
  if (c.isKeyword('TABLES') || c.isKeyword('VIEWS')) {
    const views = c.next()!.text.toUpperCase() === 'VIEWS';
    let schema: string[] | undefined;
    if (c.acceptOneOf('IN', 'FROM')) schema = c.qualifiedName('a schema name');
    const pattern = like();
    c.expectEnd();
    return {
      kind: views ? 'showViews' : 'showTables',
      ...p.source,
      ...(schema ? { schema } : {}),
      ...pattern,
    };
  }
  if (c.acceptKeyword('TBLPROPERTIES')) {
    const name = c.qualifiedName('a table name');
    let key: string | undefined;
    if (c.isPunct('(')) {
      c.next();
      key = parsePropertyKey(c);
      c.expectPunct(')');
    }
    c.expectEnd();
    return { kind: 'showTblProperties', ...p.source, name, ...(key !== undefined ? { key } : {}) };
  }
  for (const [words, construct] of [
    [['CREATE', 'TABLE'], 'SHOW CREATE TABLE'],
    [['PARTITIONS'], 'SHOW PARTITIONS'],
    [['GRANTS'], 'SHOW GRANTS'],
    [['GRANT'], 'SHOW GRANTS'],
    [['FUNCTIONS'], 'SHOW FUNCTIONS'],
    [['USER', 'FUNCTIONS'], 'SHOW USER FUNCTIONS'],
    [['SHARES'], 'SHOW SHARES'],
    [['VOLUMES'], 'SHOW VOLUMES'],
  ] as const) {
    if (c.isKeywords(...words)) throw c.unsupported(construct);
  }
  return p.query();
}
