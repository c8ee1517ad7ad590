import { describe, expect, it } from 'vitest';
import { fromDuckDBType } from '../../delta/log/schema.js';
import { isLarderError } from '../../errors.js';
import { parseSparkType, sparkTypeName } from './spark-types.js';

describe('parseSparkType', () => {
  it('maps every Spark scalar type and its synonyms to the Delta type', () => {
    const cases: [string, string][] = [
      ['INT', 'integer'],
      ['integer', 'integer'],
      ['BIGINT', 'long'],
      ['LONG', 'long'],
      ['SMALLINT', 'short'],
      ['TINYINT', 'byte'],
      ['BYTE', 'byte'],
      ['STRING', 'string'],
      ['VARCHAR(20)', 'string'],
      ['CHAR(3)', 'string'],
      ['DOUBLE', 'double'],
      ['DOUBLE PRECISION', 'double'],
      ['FLOAT', 'float'],
      ['REAL', 'float'],
      ['BOOLEAN', 'boolean'],
      ['DATE', 'date'],
      ['TIMESTAMP', 'timestamp'],
      ['TIMESTAMP_NTZ', 'timestamp_ntz'],
      ['DECIMAL(10, 2)', 'decimal(10,2)'],
      ['NUMERIC(5)', 'decimal(5,0)'],
      ['DECIMAL', 'decimal(10,0)'],
      ['BINARY', 'binary'],
    ];
    for (const [spark, delta] of cases) expect(parseSparkType(spark)).toBe(delta);
  });

  it('parses nested ARRAY, MAP and STRUCT types, with and without colons', () => {
    expect(
      parseSparkType('ARRAY<STRUCT<id: BIGINT NOT NULL, tags MAP<STRING, ARRAY<INT>> COMMENT "t">>'),
    ).toEqual({
      type: 'array',
      containsNull: true,
      elementType: {
        type: 'struct',
        fields: [
          { name: 'id', type: 'long', nullable: false, metadata: {} },
          {
            name: 'tags',
            nullable: true,
            metadata: { comment: 't' },
            type: {
              type: 'map',
              keyType: 'string',
              valueType: { type: 'array', elementType: 'integer', containsNull: true },
              valueContainsNull: true,
            },
          },
        ],
      },
    });
  });

  it('refuses unknown and unsupported types by name', () => {
    for (const [text, feature] of [
      ['INTERVAL', 'INTERVAL type'],
      ['VARIANT', 'VARIANT type'],
      ['WIDGET', 'WIDGET'],
    ]) {
      try {
        parseSparkType(text!);
        expect.unreachable();
      } catch (error) {
        expect(isLarderError(error, 'UNSUPPORTED_FEATURE')).toBe(true);
        expect((error as { context: { feature: string } }).context.feature).toBe(feature);
      }
    }
  });

  it('reports an unclosed nested type as a syntax error', () => {
    expect(() => parseSparkType('ARRAY<INT')).toThrow(/expected ">" to close ARRAY/);
  });
});

describe('sparkTypeName', () => {
  it('gives the names Spark prints, nested types included', () => {
    expect(sparkTypeName(parseSparkType('INTEGER'))).toBe('int');
    expect(sparkTypeName(parseSparkType('LONG'))).toBe('bigint');
    expect(sparkTypeName(parseSparkType('decimal(12,3)'))).toBe('decimal(12,3)');
    expect(sparkTypeName(parseSparkType('MAP<STRING, ARRAY<STRUCT<a: INT, b: TIMESTAMP>>>'))).toBe(
      'map<string,array<struct<a:int,b:timestamp>>>',
    );
  });

  it('names the Delta types of DuckDB query columns as Spark does', () => {
    expect(sparkTypeName(fromDuckDBType('BIGINT'))).toBe('bigint');
    expect(sparkTypeName(fromDuckDBType('TIMESTAMP WITH TIME ZONE'))).toBe('timestamp');
    expect(sparkTypeName(fromDuckDBType('VARCHAR[]'))).toBe('array<string>');
  });
});
