import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import type { DeletionVectorDescriptor } from '../log/actions.js';
import {
  DV_MAGIC,
  deletionVectorPath,
  deserializeRoaring,
  readDeletionVector,
  serializeRoaring,
  writeDeletionVectorFile,
  z85Decode,
  z85Encode,
} from './deletion-vector.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../..', 'test/fixtures/delta-acceptance');
const DAT_DV_TABLE = path.join(FIXTURES, 'reader_tests/generated/deletion_vectors/delta');

/** mulberry32: a small seeded generator so failures can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sortedUnique(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLarderError(error), `expected a LarderError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

/** Little-endian writer for hand-built bitmaps. */
class Bytes {
  readonly parts: number[] = [];
  u16(v: number): this {
    this.parts.push(v & 0xff, (v >>> 8) & 0xff);
    return this;
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }
  u64(v: number): this {
    return this.u32(v).u32(0);
  }
  u8(v: number): this {
    this.parts.push(v);
    return this;
  }
  get array(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

describe('Z85', () => {
  it('encodes and decodes the ZeroMQ reference vector', () => {
    const bytes = new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect([...z85Decode('HelloWorld')]).toEqual([...bytes]);
  });

  it('pads to whole blocks and drops the padding when told the size', () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const text = z85Encode(bytes);
    expect(text).toHaveLength(10);
    expect([...z85Decode(text, 6)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('round-trips random bytes', () => {
    const seed = Date.now() % 100_000;
    const random = rng(seed);
    for (let n = 0; n < 50; n++) {
      const bytes = Uint8Array.from({ length: 4 * Math.floor(random() * 20) }, () =>
        Math.floor(random() * 256),
      );
      expect([...z85Decode(z85Encode(bytes))], `seed ${seed}`).toEqual([...bytes]);
    }
  });

  it('rejects characters outside the alphabet and lengths not a multiple of 5', () => {
    expect(() => z85Decode('Hello~orld')).toThrow(/invalid Z85 character/);
    expect(() => z85Decode('Hell')).toThrow(/multiple of 5/);
  });
});

describe('deletion vector paths', () => {
  it('derives the file of a u descriptor from its random prefix and Z85 UUID (PROTOCOL.md example 1)', () => {
    const dv: DeletionVectorDescriptor = {
      storageType: 'u',
      pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^',
      offset: 4,
      sizeInBytes: 40,
      cardinality: 6,
    };
    expect(deletionVectorPath('/tables/t', dv)).toBe(
      '/tables/t/ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin',
    );
  });

  it('takes p descriptors as absolute paths or file URIs', () => {
    const dv = (p: string): DeletionVectorDescriptor => ({
      storageType: 'p',
      pathOrInlineDv: p,
      offset: 1,
      sizeInBytes: 40,
      cardinality: 1,
    });
    expect(deletionVectorPath('/t', dv('file:///data/dv%20x.bin'))).toBe('/data/dv x.bin');
    expect(deletionVectorPath('/t', dv('/data/dv.bin'))).toBe('/data/dv.bin');
    expect(() => deletionVectorPath('/t', dv('s3://bucket/dv.bin'))).toThrow(/only local files/);
  });
});

describe('Roaring bitmaps', () => {
  it('round-trips random sets: sparse, dense (>4096 in one container) and across high keys', () => {
    const seed = Date.now() % 1_000_000;
    const random = rng(seed);
    const shapes: Array<() => number[]> = [
      () => Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 1_000_000)),
      () => Array.from({ length: 5000 + Math.floor(random() * 30_000) }, () => Math.floor(random() * 65_536)),
      () => Array.from({ length: 3000 }, () => Math.floor(random() * 2 ** 36)),
      () =>
        Array.from({ length: 8000 }, (_, i) =>
          i % 2 === 0 ? Math.floor(random() * 65_536) : 7 * 2 ** 32 + Math.floor(random() * 65_536),
        ),
    ];
    for (let round = 0; round < 20; round++) {
      const rows = shapes[round % shapes.length]!();
      const expected = sortedUnique(rows);
      expect(deserializeRoaring(serializeRoaring(rows)), `seed ${seed}, round ${round}`).toEqual(expected);
    }
  });

  it('keeps boundary values of containers and buckets', () => {
    const rows = [0, 1, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 65_536, 2 ** 53 - 1];
    expect(deserializeRoaring(serializeRoaring(rows))).toEqual(rows);
  });

  it('writes the magic number and a little-endian bucket count', () => {
    const bytes = serializeRoaring([1, 2 ** 32 + 1]);
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(0, true)).toBe(DV_MAGIC);
    expect(view.getBigUint64(4, true)).toBe(2n);
  });

  it('serialises an empty set and duplicate rows once', () => {
    expect(deserializeRoaring(serializeRoaring([]))).toEqual([]);
    expect(deserializeRoaring(serializeRoaring([5, 5, 3]))).toEqual([3, 5]);
  });

  it('reads run containers, with and without the offset header', () => {
    // Two containers (< 4: no offsets): a run container [10..20] and an array container {65536 + 7}.
    const small = new Bytes()
      .u32(DV_MAGIC)
      .u64(1)
      .u32(0)
      .u32(12347 | ((2 - 1) << 16))
      .u8(0b01)
      .u16(0)
      .u16(10)
      .u16(1)
      .u16(0)
      .u16(1)
      .u16(10)
      .u16(10)
      .u16(7);
    const expectedSmall = [...Array.from({ length: 11 }, (_, i) => 10 + i), 65_543];
    expect(deserializeRoaring(small.array)).toEqual(expectedSmall);

    // Four containers (>= 4: offsets present): runs in containers 0 and 3, arrays in 1 and 2.
    const big = new Bytes()
      .u32(DV_MAGIC)
      .u64(1)
      .u32(3)
      .u32(12347 | ((4 - 1) << 16))
      .u8(0b1001);
    for (const [key, card] of [
      [0, 3],
      [1, 1],
      [2, 1],
      [5, 5],
    ] as const) {
      big.u16(key).u16(card - 1);
    }
    for (let i = 0; i < 4; i++) big.u32(0);
    big.u16(1).u16(100).u16(2); // run 100..102
    big.u16(9); // 65536 + 9
    big.u16(8); // 131072 + 8
    big.u16(2).u16(0).u16(1).u16(500).u16(2); // runs 0..1 and 500..502
    const base = 3 * 2 ** 32;
    expect(deserializeRoaring(big.array)).toEqual(
      [100, 101, 102, 65_545, 131_080, 327_680, 327_681, 328_180, 328_181, 328_182].map((v) => base + v),
    );
  });

  it('reads the older native layout (magic 1681511376)', () => {
    const portable = serializeRoaring([3, 4, 7, 2 ** 32 + 9]);
    // Re-frame the two 32-bit bitmaps of the portable form: [magic][count u64]([key u32][bitmap])*.
    const first = deserializeRoaring(serializeRoaring([3, 4, 7]));
    expect(first).toEqual([3, 4, 7]);
    const lowBitmap = serializeRoaring([3, 4, 7]).subarray(16);
    const highBitmap = serializeRoaring([9]).subarray(16);
    const native = new Bytes().u32(1681511376).u32(2).u32(lowBitmap.length);
    native.parts.push(...lowBitmap);
    native.u32(highBitmap.length);
    native.parts.push(...highBitmap);
    expect(deserializeRoaring(native.array)).toEqual(deserializeRoaring(portable));
  });

  it('refuses the big-endian bytes of PROTOCOL.md inline example 3, as delta-spark does', () => {
    const bytes = z85Decode('wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L', 40);
    expect(() => deserializeRoaring(bytes)).toThrow(/magic number/);
  });

  it('reads inline descriptors written by delta-spark', async () => {
    const dv: DeletionVectorDescriptor = {
      storageType: 'i',
      pathOrInlineDv: '^Bg9^0rr910000000000iXQKl0rr91000625c8Xg0rri41POJ5',
      sizeInBytes: 38,
      cardinality: 3,
    };
    expect(await readDeletionVector('/unused', dv)).toEqual([1, 3, 5]);
  });

  it('rejects truncated bitmaps and unknown cookies', () => {
    const bytes = serializeRoaring([1, 2, 3]);
    expect(() => deserializeRoaring(bytes.subarray(0, bytes.length - 2))).toThrow(/truncated/);
    const bad = Uint8Array.from(bytes);
    bad[16] = 0x11;
    expect(() => deserializeRoaring(bad)).toThrow(/cookie/);
  });
});

describe('deletion vector files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'larder-dv-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the deletion vector Spark wrote in the DAT deletion_vectors table', async () => {
    const dv: DeletionVectorDescriptor = {
      storageType: 'u',
      pathOrInlineDv: 'ITfmIXOK!>U^L:if1E+a',
      offset: 1,
      sizeInBytes: 40,
      cardinality: 4,
    };
    expect(deletionVectorPath(DAT_DV_TABLE, dv)).toBe(
      path.join(DAT_DV_TABLE, 'deletion_vector_8aebe228-b96c-4831-b0b6-22882eb9a3d3.bin'),
    );
    expect(await readDeletionVector(DAT_DV_TABLE, dv)).toEqual([0, 2, 3, 4]);
  });

  it('writes a file that reads back to the same rows, with a u descriptor at offset 1', async () => {
    const seed = Date.now() % 1_000_000;
    const random = rng(seed);
    const rows = Array.from({ length: 20_000 }, () => Math.floor(random() * 300_000));
    const dv = await writeDeletionVectorFile(dir, rows);
    expect(dv.storageType).toBe('u');
    expect(dv.offset).toBe(1);
    expect(dv.pathOrInlineDv).toHaveLength(20);
    expect(dv.cardinality).toBe(new Set(rows).size);
    const file = deletionVectorPath(dir, dv);
    expect(path.basename(file)).toMatch(/^deletion_vector_[0-9a-f-]{36}\.bin$/);
    const bytes = await readFile(file);
    expect(bytes[0]).toBe(1);
    expect(bytes.readUInt32BE(1)).toBe(dv.sizeInBytes);
    expect(bytes.length).toBe(1 + 4 + dv.sizeInBytes + 4);
    expect(await readDeletionVector(dir, dv), `seed ${seed}`).toEqual(sortedUnique(rows));
  });

  it('reads inline descriptors made of the same bitmap bytes', async () => {
    const bitmap = serializeRoaring([2, 9, 70_000]);
    const dv: DeletionVectorDescriptor = {
      storageType: 'i',
      pathOrInlineDv: z85Encode(bitmap),
      sizeInBytes: bitmap.length,
      cardinality: 3,
    };
    expect(await readDeletionVector(dir, dv)).toEqual([2, 9, 70_000]);
  });

  it('fails with CORRUPT_LOG on a checksum, size or cardinality that disagrees', async () => {
    const dv = await writeDeletionVectorFile(dir, [1, 2, 3]);
    const file = deletionVectorPath(dir, dv);
    await expectCode(readDeletionVector(dir, { ...dv, cardinality: 4 }), 'CORRUPT_LOG');
    await expectCode(readDeletionVector(dir, { ...dv, sizeInBytes: dv.sizeInBytes - 1 }), 'CORRUPT_LOG');
    const bytes = await readFile(file);
    bytes[bytes.length - 6]! ^= 0xff;
    await writeFile(file, bytes);
    await expectCode(readDeletionVector(dir, dv), 'CORRUPT_LOG');
  });

  it('fails with IO_ERROR naming the file when it is missing', async () => {
    const dv = await writeDeletionVectorFile(dir, [1]);
    await rm(deletionVectorPath(dir, dv));
    await expect(readDeletionVector(dir, dv)).rejects.toThrow(/deletion_vector_.*\.bin/);
    await expectCode(readDeletionVector(dir, dv), 'IO_ERROR');
  });
});
