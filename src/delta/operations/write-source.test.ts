import { describe, expect, it } from 'vitest';
import { connect, queryJson } from '../../duckdb/duckdb.js';
import { parseSchema } from '../log/schema.js';
import { prepareSource } from './write-source.js';

const schema = parseSchema(
  JSON.stringify({
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: true, metadata: {} },
      { name: 'payload', type: 'binary', nullable: true, metadata: {} },
      {
        name: 'tags',
        type: { type: 'array', elementType: 'string', containsNull: true },
        nullable: true,
        metadata: {},
      },
    ],
  }),
);

describe('prepareSource', () => {
  it('loads row objects with the table types, bytes and arrays included', async () => {
    const connection = await connect();
    try {
      const source = await prepareSource(
        connection,
        [{ id: 2n ** 62n, payload: new Uint8Array([0, 255, 7]), tags: ['a', 'b'] }, { id: 1 }],
        schema,
        { table: 't' },
      );
      try {
        expect(source.columns).toEqual([
          { name: 'id', duckType: 'BIGINT' },
          { name: 'payload', duckType: 'BLOB' },
          { name: 'tags', duckType: 'VARCHAR[]' },
        ]);
        const rows = await queryJson(
          connection,
          `SELECT id, hex(payload) AS hex, tags FROM (${source.sql}) ORDER BY id`,
        );
        expect(rows).toEqual([
          { id: '1', hex: null, tags: null },
          { id: String(2n ** 62n), hex: '00FF07', tags: ['a', 'b'] },
        ]);
      } finally {
        await source.cleanup();
      }
    } finally {
      connection.closeSync();
    }
  });

  it('infers the types of new fields only with mergeSchema', async () => {
    const connection = await connect();
    try {
      await expect(
        prepareSource(connection, [{ id: 1, score: 0.5 }], schema, { table: 't' }),
      ).rejects.toMatchObject({
        code: 'SCHEMA_MISMATCH',
      });
      const source = await prepareSource(connection, [{ id: 1, score: 0.5, seen: new Date(0) }], schema, {
        table: 't',
        mergeSchema: true,
      });
      await source.cleanup();
      expect(source.columns.slice(1)).toEqual([
        { name: 'score', duckType: 'DOUBLE' },
        { name: 'seen', duckType: 'TIMESTAMP WITH TIME ZONE' },
      ]);
    } finally {
      connection.closeSync();
    }
  });

  it('strips a final semicolon but refuses a second statement', async () => {
    const connection = await connect();
    try {
      const source = await prepareSource(connection, "SELECT 1 AS id, ';' AS x; -- done", schema, {
        table: 't',
      });
      expect(source.columns.map((c) => c.name)).toEqual(['id', 'x']);
      await expect(
        prepareSource(connection, 'SELECT 1 AS id; DROP TABLE x', schema, { table: 't' }),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    } finally {
      connection.closeSync();
    }
  });
});
