/**
 * The query a pipeline run executes: the pipeline's SQL with each source
 * bound, under its name, to a relation of the run. The relations are
 * non-materialised CTEs put in front of the user's query (merged into its
 * own WITH clause when it has one), so the query needs no session state (it
 * runs on any connection) and its select list is the user's, untouched:
 * DuckDB would silently rename repeated column names of a subquery.
 */
import { sqlIdent } from '../duckdb/duckdb.js';
import { isSignificant, splitStatements, tokenize } from '../engine/sql-tokenizer.js';
import { LarderError } from '../errors.js';
import type { SourceColumn } from './sources/bound-source.js';

/**
 * `WITH s1 AS NOT MATERIALIZED (…), … <sql>`. Throws `SQL_ERROR` when `sql`
 * is not exactly one statement.
 *
 * @example
 * pipelineQuery('SELECT customer_id, count(*) AS n FROM tx GROUP BY 1', new Map([['tx', plan.sql]]), 'customer_features');
 */
export function pipelineQuery(sql: string, relations: ReadonlyMap<string, string>, pipeline = ''): string {
  const statements = splitStatements(sql);
  if (statements.length !== 1) {
    throw new LarderError(
      'SQL_ERROR',
      `pipeline "${pipeline}": ${statements.length === 0 ? 'the SQL is empty' : `the SQL holds ${statements.length} statements; one query expected`}`,
      { pipeline, hint: 'a pipeline is one SELECT; CTEs are allowed' },
    );
  }
  const body = statements[0]!.text;
  if (relations.size === 0) return body;
  const ctes = [...relations]
    .map(([name, relation]) => `${sqlIdent(name)} AS NOT MATERIALIZED (${relation})`)
    .join(',\n');
  const words = tokenize(body).filter(isSignificant);
  const first = words[0];
  if (first?.kind === 'word' && first.text.toLowerCase() === 'with') {
    const second = words[1];
    const after =
      second?.kind === 'word' && second.text.toLowerCase() === 'recursive' ? second.end : first.end;
    return `${body.slice(0, after)} ${ctes},\n${body.slice(after)}`;
  }
  return `WITH ${ctes}\n${body}`;
}

/**
 * A relation with `columns` and no rows: binds like the source, reads nothing.
 *
 * @example
 * emptyRelation([{ name: 'id', duckType: 'BIGINT' }]); // SELECT CAST(NULL AS BIGINT) AS "id" WHERE false
 */
export function emptyRelation(columns: readonly SourceColumn[]): string {
  if (columns.length === 0) return 'SELECT 1 WHERE false';
  return `SELECT ${columns.map((c) => `CAST(NULL AS ${c.duckType}) AS ${sqlIdent(c.name)}`).join(', ')} WHERE false`;
}
