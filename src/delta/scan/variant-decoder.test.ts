import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, run, sqlString } from '../../duckdb/duckdb.js';
import { loadSnapshot } from '../log/replay.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import { commitFileName } from '../storage/log-store.js';
import { readTableRows } from './scan.js';
import { variantToJson } from './variant-decoder.js';

// A small encoder written from the Parquet Variant encoding spec, as the test's oracle:
// objects and arrays pick their offset and id widths from the sizes, as writers must.

type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

const le = (n: number, size: number) =>
  Array.from({ length: size }, (_, i) => Math.floor(n / 256 ** i) % 256);
const widthOf = (max: number) => (max < 0x100 ? 1 : max < 0x10000 ? 2 : max < 0x1000000 ? 3 : 4);

function encode(value: Json): { metadata: Uint8Array; value: Uint8Array } {
  const keys = new Map<string, number>();
  const collect = (v: Json) => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if (!keys.has(k)) keys.set(k, keys.size);
        collect(x);
      }
  };
  collect(value);
  const names = [...keys.keys()].map((k) => Buffer.from(k, 'utf8'));
  const total = names.reduce((n, b) => n + b.length, 0);
  const offsetSize = widthOf(Math.max(total, names.length));
  const offsets = [0];
  for (const b of names) offsets.push(offsets[offsets.length - 1]! + b.length);
  const metadata = Uint8Array.from([
    0x01 | ((offsetSize - 1) << 6),
    ...le(names.length, offsetSize),
    ...offsets.flatMap((o) => le(o, offsetSize)),
    ...names.flatMap((b) => [...b]),
  ]);

  const enc = (v: Json): number[] => {
    if (v === null) return [0];
    if (v === true) return [1 << 2];
    if (v === false) return [2 << 2];
    if (typeof v === 'bigint') {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(v);
      return [6 << 2, ...b];
    }
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= -128 && v <= 127) return [3 << 2, v & 0xff];
      if (Number.isInteger(v) && v >= -32768 && v <= 32767) return [4 << 2, ...le(v & 0xffff, 2)];
      if (Number.isInteger(v) && Math.abs(v) < 2 ** 31) return [5 << 2, ...le(v >>> 0, 4)];
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      return [7 << 2, ...b];
    }
    if (typeof v === 'string') {
      const b = Buffer.from(v, 'utf8');
      return b.length < 64 ? [(b.length << 2) | 1, ...b] : [16 << 2, ...le(b.length, 4), ...b];
    }
    const children = Array.isArray(v) ? v.map(enc) : Object.values(v).map(enc);
    const size = children.reduce((n, c) => n + c.length, 0);
    const offSize = widthOf(size);
    const large = children.length > 255;
    const offs = [0];
    for (const c of children) offs.push(offs[offs.length - 1]! + c.length);
    const count = le(children.length, large ? 4 : 1);
    const offBytes = offs.flatMap((o) => le(o, offSize));
    if (Array.isArray(v)) {
      return [((large ? 1 : 0) << 4) | ((offSize - 1) << 2) | 3, ...count, ...offBytes, ...children.flat()];
    }
    const ids = Object.keys(v).map((k) => keys.get(k)!);
    const idSize = widthOf(Math.max(0, ...ids));
    const header = ((large ? 1 : 0) << 6) | ((idSize - 1) << 4) | ((offSize - 1) << 2) | 2;
    return [header, ...count, ...ids.flatMap((id) => le(id, idSize)), ...offBytes, ...children.flat()];
  };
  return { metadata, value: Uint8Array.from(enc(value)) };
}

const EMPTY_METADATA = Uint8Array.of(0x01, 0x00, 0x00);

describe('variantToJson', () => {
  it('decodes values built by an encoder written from the spec', () => {
    const cases: Json[] = [
      null,
      true,
      false,
      42,
      -300,
      70_000,
      -2_000_000_000,
      9_007_199_254_740_993n,
      3.25,
      'short',
      'a string longer than sixty-three bytes, so it takes the long primitive form',
      'ünïcødé ✓',
      [],
      {},
      [1, 'two', [3, { four: 4 }], null],
      { name: 'Alice', age: 30, tags: ['a', 'b'], address: { city: 'Paris', zip: '75001' } },
      { a: 1, b: { a: 2, c: [true, false] } },
      Array.from({ length: 300 }, (_, i) => i),
      Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, 'x'.repeat(i % 70)])),
    ];
    for (const value of cases) {
      const { metadata, value: bytes } = encode(value);
      const expected = JSON.stringify(value, (_k, v: unknown) =>
        typeof v === 'bigint' ? `__big${v}` : v,
      ).replace(/"__big(-?\d+)"/g, '$1');
      expect(variantToJson(metadata, bytes), JSON.stringify(expected).slice(0, 80)).toBe(expected);
    }
  });

  it('decodes hand-made byte sequences of the primitive types', () => {
    const p = (type: number, ...body: number[]) => Uint8Array.of(type << 2, ...body);
    const cases: [Uint8Array, string][] = [
      [p(3, 0x2a), '42'],
      [p(4, 0x18, 0xfc), '-1000'],
      [p(8, 2, 0x39, 0x30, 0, 0), '123.45'], // decimal4: scale 2, unscaled 12345
      [p(8, 3, 0xff, 0xff, 0xff, 0xff), '-0.001'],
      [p(9, 0, 0x15, 0xcd, 0x5b, 0x07, 0, 0, 0, 0), '123456789'],
      [p(10, 1, ...Array(15).fill(0xff), 0xff), '-0.1'], // decimal16: -1 with scale 1
      [p(11, 0x8a, 0x4d, 0, 0), '"2024-05-07"'], // 19850 days
      [p(13, ...le(1_000_000 * 86_400 + 500_000, 6), 0, 0), '"1970-01-02 00:00:00.5"'],
      [p(12, 0, 0, 0, 0, 0, 0, 0, 0), '"1970-01-01 00:00:00+00:00"'],
      [p(14, 0, 0, 0xc0, 0x3f), '1.5'],
      [p(15, 3, 0, 0, 0, 1, 2, 3), '"AQID"'],
      [p(16, 2, 0, 0, 0, 0x68, 0x69), '"hi"'],
      [
        p(20, 0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00),
        '"123e4567-e89b-12d3-a456-426614174000"',
      ],
    ];
    for (const [bytes, json] of cases) expect(variantToJson(EMPTY_METADATA, bytes)).toBe(json);
    // {"a": 1}: dictionary ["a"]; object header 0x02 (1-byte ids and offsets), one field.
    const metadata = Uint8Array.of(0x01, 0x01, 0x00, 0x01, 0x61);
    expect(variantToJson(metadata, Uint8Array.of(0x02, 0x01, 0x00, 0x00, 0x02, 0x0c, 0x01))).toBe('{"a":1}');
  });

  it('says what is wrong with bytes that do not follow the encoding', () => {
    expect(() => variantToJson(Uint8Array.of(0x02, 0, 0), Uint8Array.of(0))).toThrow(/version 2/);
    expect(() => variantToJson(EMPTY_METADATA, Uint8Array.of(6 << 2, 1, 2))).toThrow(/truncated/);
    expect(() => variantToJson(EMPTY_METADATA, Uint8Array.of(0x02, 0x01, 0x05, 0x00, 0x01, 0x00))).toThrow(
      /field id 5/,
    );
  });
});

describe('reading a table with a variant column', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-variant-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns each variant as its JSON text, and nulls as null', async () => {
    const root = join(dir, 't');
    await mkdir(root, { recursive: true });
    const values: Json[] = [{ event: 'click', n: 3, tags: ['x'] }, 'plain', [1.5, null]];
    const hex = (b: Uint8Array) => `from_hex('${Buffer.from(b).toString('hex')}')`;
    const rows = values.map((v, i) => {
      const e = encode(v);
      return `(${i + 1}, {'value': ${hex(e.value)}, 'metadata': ${hex(e.metadata)}})`;
    });
    const connection = await connect();
    try {
      await run(
        connection,
        `COPY (SELECT * FROM (VALUES ${rows.join(', ')}, (4, NULL)) AS t(id, v)) TO ${sqlString(join(root, 'part-0.parquet'))} (FORMAT parquet)`,
      );
    } finally {
      connection.closeSync();
    }
    const schema = {
      type: 'struct',
      fields: [
        { name: 'id', type: 'integer', nullable: true, metadata: {} },
        { name: 'v', type: 'variant', nullable: true, metadata: {} },
      ],
    };
    const store = new LocalLogStore(root);
    const actions = [
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['variantType'],
          writerFeatures: ['variantType'],
        },
      },
      {
        metaData: {
          id: '0a0a0a0a-0000-4000-8000-000000000000',
          format: { provider: 'parquet', options: {} },
          schemaString: JSON.stringify(schema),
          partitionColumns: [],
          configuration: {},
        },
      },
      {
        add: {
          path: 'part-0.parquet',
          partitionValues: {},
          size: 1,
          modificationTime: 1,
          dataChange: true,
          stats: '{"numRecords":4,"nullCount":{"id":0,"v":1}}',
        },
      },
    ];
    await store.put(commitFileName(0), `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`);
    const read = await readTableRows(await loadSnapshot(store));
    expect(read.sort((a, b) => Number(a.id) - Number(b.id))).toEqual([
      { id: 1, v: '{"event":"click","n":3,"tags":["x"]}' },
      { id: 2, v: '"plain"' },
      { id: 3, v: '[1.5,null]' },
      { id: 4, v: null },
    ]);
  });
});
