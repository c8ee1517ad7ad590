import { describe, expect, it } from 'vitest';
import { toDuckDbDialect } from './spark-dialect.js';

describe('toDuckDbDialect', () => {
  it('turns backtick identifiers into double-quoted ones', () => {
    expect(toDuckDbDialect('SELECT `a b`, `x"y`, `t``q` FROM `ml`.`s`.`t`')).toBe(
      'SELECT "a b", "x""y", "t`q" FROM "ml"."s"."t"',
    );
    expect(toDuckDbDialect("SELECT '`not`' AS s -- `comment`")).toBe("SELECT '`not`' AS s -- `comment`");
  });

  it('rewrites Spark date arithmetic with bare unit keywords, nested calls included', () => {
    expect(toDuckDbDialect('SELECT TIMESTAMPDIFF(MINUTE, a, b)')).toBe("SELECT date_sub('minute', a, b)");
    expect(toDuckDbDialect('SELECT datediff(days, a, b), DATEDIFF(b, a)')).toBe(
      "SELECT date_sub('day', a, b), date_diff('day', CAST((a) AS DATE), CAST((b) AS DATE))",
    );
    expect(toDuckDbDialect('SELECT TIMESTAMPDIFF(HOUR, TIMESTAMPADD(MINUTE, f(x, 2), ts), now())')).toBe(
      "SELECT date_sub('hour', ((ts) + to_minutes(f(x, 2))), now())",
    );
  });

  it('leaves DuckDB’s own forms, qualified names and strings alone', () => {
    for (const sql of [
      "SELECT datediff('day', a, b)",
      'SELECT my_schema.timestampdiff(MINUTE, a, b)',
      "SELECT 'TIMESTAMPDIFF(MINUTE, a, b)'",
      'SELECT timestampdiff FROM t',
    ]) {
      expect(toDuckDbDialect(sql), sql).toBe(sql);
    }
  });
});
