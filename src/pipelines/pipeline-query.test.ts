import { describe, expect, it } from 'vitest';
import { connect } from '../duckdb/duckdb.js';
import { isLarderError } from '../errors.js';
import { emptyRelation, pipelineQuery } from './pipeline-query.js';

describe('pipelineQuery', () => {
  const relations = new Map([
    ['tx', 'SELECT * FROM (VALUES (1, 10), (1, 5), (2, 7)) t(customer_id, amount)'],
    ['c', 'SELECT 1 AS customer_id UNION ALL SELECT 2'],
  ]);

  async function rows(sql: string): Promise<unknown[][]> {
    const connection = await connect();
    try {
      return (await connection.runAndReadAll(sql)).getRowsJson() as unknown[][];
    } finally {
      connection.closeSync();
    }
  }

  it('binds each source under its name for a plain query, a trailing semicolon and comment aside', async () => {
    const sql = pipelineQuery(
      'SELECT customer_id, sum(amount) AS s FROM tx GROUP BY 1 ORDER BY 1; -- done',
      relations,
    );
    expect(await rows(sql)).toEqual([
      [1, '15'],
      [2, '7'],
    ]);
  });

  it("merges the sources into the query's own WITH clause, after a leading comment and RECURSIVE", async () => {
    const sql = pipelineQuery(
      `-- totals
       WITH RECURSIVE totals AS (SELECT customer_id, sum(amount) AS s FROM tx GROUP BY 1)
       SELECT c.customer_id, t.s FROM c JOIN totals t USING (customer_id) ORDER BY 1`,
      relations,
    );
    expect(await rows(sql)).toEqual([
      [1, '15'],
      [2, '7'],
    ]);
  });

  it('keeps repeated output column names visible (no wrapping subquery renames them)', async () => {
    const described = await rows(
      `DESCRIBE ${pipelineQuery('SELECT customer_id AS a, amount AS a FROM tx', relations)}`,
    );
    expect(described.map((r) => r[0])).toEqual(['a', 'a']);
  });

  it('refuses more than one statement, naming the pipeline', () => {
    try {
      pipelineQuery('SELECT 1; SELECT 2', relations, 'p');
      expect.unreachable();
    } catch (error) {
      expect(isLarderError(error, 'SQL_ERROR')).toBe(true);
      expect((error as Error).message).toBe(
        'pipeline "p": the SQL holds 2 statements; one query expected (a pipeline is one SELECT; CTEs are allowed)',
      );
    }
  });
});

describe('emptyRelation', () => {
  it('has the columns and types given, and no row', async () => {
    const connection = await connect();
    try {
      const sql = emptyRelation([
        { name: 'id', duckType: 'BIGINT' },
        { name: 'at', duckType: 'TIMESTAMP WITH TIME ZONE' },
      ]);
      expect((await connection.runAndReadAll(`SELECT count(*) FROM (${sql})`)).getRowsJson()).toEqual([
        ['0'],
      ]);
      const described = (await connection.runAndReadAll(`DESCRIBE ${sql}`)).getRowsJson();
      expect(described.map((r) => [r[0], r[1]])).toEqual([
        ['id', 'BIGINT'],
        ['at', 'TIMESTAMP WITH TIME ZONE'],
      ]);
    } finally {
      connection.closeSync();
    }
  });
});
