/**
 * Deletion vectors (PROTOCOL.md "Deletion Vectors", "Deletion Vector Format"):
 * the sets of row positions of a data file that are deleted without rewriting
 * the file. Written by hand because no JavaScript library reads the 64-bit
 * portable RoaringBitmap format Delta stores, and the format is small:
 *
 * - Z85 (ZeroMQ base85) text for inline DVs and for the UUID of `u` paths;
 * - a bitmap is the magic number 1681511377 (little-endian), the number of
 *   32-bit buckets (u64), then per bucket its high 32 bits (u32) and a
 *   standard portable 32-bit Roaring bitmap (array, bitmap and run
 *   containers);
 * - a DV file is a version byte (1), then per DV at its `offset`: the bitmap
 *   size (u32 big-endian), the bitmap, and its CRC-32 (u32 big-endian).
 *
 * Invariants: row positions are returned sorted and distinct; a checksum or
 * cardinality that disagrees with the descriptor is a `CORRUPT_LOG` error
 * naming the file; `serializeRoaring` output is readable by any Roaring
 * implementation (it writes array and bitmap containers only).
 */
import { randomUUID } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { LarderError } from '../../errors.js';
import type { DeletionVectorDescriptor } from '../log/actions.js';

const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < Z85_ALPHABET.length; i++) Z85_DECODE[Z85_ALPHABET.charCodeAt(i)] = i;

/** Magic number at the start of every Delta deletion-vector bitmap. */
export const DV_MAGIC = 1681511377;
/** Magic number of the older "native" layout, which Delta readers still accept. */
const DV_MAGIC_NATIVE = 1681511376;
const SERIAL_COOKIE_NO_RUN = 12346;
const SERIAL_COOKIE = 12347;
const NO_OFFSET_THRESHOLD = 4;
const ARRAY_MAX = 4096;
const TWO_32 = 2 ** 32;

/**
 * Encode bytes as Z85. Input whose length is not a multiple of 4 is padded
 * with zero bytes (as Delta does for inline DVs; the descriptor's
 * `sizeInBytes` says how many bytes are real).
 * @example z85Encode(new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])) // 'HelloWorld'
 */
export function z85Encode(bytes: Uint8Array): string {
  const padded = bytes.length % 4 === 0 ? bytes : new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  if (padded !== bytes) padded.set(bytes);
  const view = new DataView(padded.buffer, padded.byteOffset, padded.byteLength);
  let out = '';
  for (let i = 0; i < padded.length; i += 4) {
    let value = view.getUint32(i, false);
    const chunk = new Array<string>(5);
    for (let j = 4; j >= 0; j--) {
      chunk[j] = Z85_ALPHABET[value % 85]!;
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/**
 * Decode Z85 text. The length must be a multiple of 5; pass `size` to keep
 * only the first `size` bytes (dropping the padding `z85Encode` added).
 */
export function z85Decode(text: string, size?: number): Uint8Array {
  if (text.length % 5 !== 0) {
    throw new LarderError('CORRUPT_LOG', `Z85 text has length ${text.length}, not a multiple of 5`);
  }
  const out = new Uint8Array((text.length / 5) * 4);
  const view = new DataView(out.buffer);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const code = text.charCodeAt(i + j);
      const digit = code < 128 ? Z85_DECODE[code]! : -1;
      if (digit < 0) {
        throw new LarderError('CORRUPT_LOG', `invalid Z85 character "${text[i + j]}" at offset ${i + j}`);
      }
      value = value * 85 + digit;
    }
    if (value >= TWO_32) throw new LarderError('CORRUPT_LOG', `Z85 block at offset ${i} overflows 32 bits`);
    view.setUint32(o, value, false);
  }
  return size === undefined ? out : out.subarray(0, size);
}

/** The canonical text form of a 16-byte UUID. */
function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The absolute path of the file holding a `u` or `p` deletion vector:
 * `u` is `<root>/<random prefix>/deletion_vector_<uuid>.bin` where the UUID
 * is the Z85 text of the last 20 characters; `p` is an absolute path or URI.
 */
export function deletionVectorPath(tableRoot: string, dv: DeletionVectorDescriptor): string {
  if (dv.storageType === 'u') {
    const text = dv.pathOrInlineDv;
    if (text.length < 20) {
      throw new LarderError('CORRUPT_LOG', `deletion vector path "${text}" is shorter than a Z85 UUID`);
    }
    const prefix = text.slice(0, text.length - 20);
    const uuid = uuidText(z85Decode(text.slice(-20)));
    return path.join(tableRoot, prefix, `deletion_vector_${uuid}.bin`);
  }
  if (dv.storageType === 'p') {
    const p = dv.pathOrInlineDv;
    if (p.startsWith('file:')) return fileURLToPath(p);
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p)) {
      throw new LarderError(
        'UNSUPPORTED_FEATURE',
        `deletion vector at ${p}: only local files are supported`,
        {
          file: p,
          feature: 'remoteDeletionVector',
        },
      );
    }
    return decodeURIComponent(p);
  }
  throw new LarderError('INVALID_ARGUMENT', 'an inline deletion vector has no file');
}

/**
 * Decode a Delta bitmap (magic number + 64-bit portable Roaring, or the older
 * native layout: magic 1681511376, a u32 count, then per bitmap its size and
 * a 32-bit Roaring bitmap) into sorted row positions.
 */
export function deserializeRoaring(bytes: Uint8Array, source = 'deletion vector'): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new LarderError('CORRUPT_LOG', `${source} is corrupt: ${what}`, { file: source });
  };
  if (bytes.length < 8) fail('too short');
  const magic = view.getUint32(0, true);
  const rows: number[] = [];
  if (magic === DV_MAGIC_NATIVE) {
    // The older layout: bitmap i holds the values whose high 32 bits are i.
    const count = view.getUint32(4, true);
    if (count > 2 ** 21) fail(`row positions beyond 2^53 (${count} bitmaps)`);
    let pos = 8;
    for (let i = 0; i < count; i++) {
      if (pos + 4 > bytes.length) fail('truncated bitmap size');
      const size = view.getUint32(pos, true);
      const end = readRoaring32(view, pos + 4, i * TWO_32, rows, fail);
      if (end !== pos + 4 + size) fail(`bitmap ${i} is ${end - pos - 4} bytes, its header says ${size}`);
      pos = end;
    }
    return sortedDistinct(rows);
  }
  if (magic !== DV_MAGIC) fail(`magic number ${magic}, expected ${DV_MAGIC}`);
  if (bytes.length < 12) fail('too short');
  const buckets = Number(view.getBigUint64(4, true));
  let pos = 12;
  let previousHigh = -1;
  for (let b = 0; b < buckets; b++) {
    if (pos + 4 > bytes.length) fail('truncated bucket key');
    const high = view.getUint32(pos, true);
    if (high <= previousHigh) fail('bucket keys are not ascending');
    if (high >= 2 ** 21) fail(`row position beyond 2^53 in bucket ${high}`);
    previousHigh = high;
    pos = readRoaring32(view, pos + 4, high * TWO_32, rows, fail);
  }
  return sortedDistinct(rows);
}

/** Roaring writers emit ascending keys; if one did not, sort rather than mislead the reader. */
function sortedDistinct(rows: number[]): number[] {
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]! <= rows[i - 1]!) return normalizeRows(rows);
  }
  return rows;
}

function readRoaring32(
  view: DataView,
  start: number,
  base: number,
  rows: number[],
  fail: (what: string) => never,
): number {
  const need = (n: number, at: number) => {
    if (at + n > view.byteLength) fail('truncated 32-bit bitmap');
  };
  need(4, start);
  const cookie = view.getUint32(start, true);
  let pos = start + 4;
  let size: number;
  let runFlags: Uint8Array | undefined;
  if ((cookie & 0xffff) === SERIAL_COOKIE) {
    size = (cookie >>> 16) + 1;
    const flagBytes = Math.ceil(size / 8);
    need(flagBytes, pos);
    runFlags = new Uint8Array(view.buffer, view.byteOffset + pos, flagBytes);
    pos += flagBytes;
  } else if (cookie === SERIAL_COOKIE_NO_RUN) {
    need(4, pos);
    size = view.getUint32(pos, true);
    pos += 4;
  } else {
    return fail(`unknown 32-bit bitmap cookie ${cookie}`);
  }
  need(4 * size, pos);
  const keys = new Uint16Array(size);
  const cards = new Uint32Array(size);
  for (let i = 0; i < size; i++) {
    keys[i] = view.getUint16(pos, true);
    cards[i] = view.getUint16(pos + 2, true) + 1;
    pos += 4;
  }
  if (!runFlags || size >= NO_OFFSET_THRESHOLD) pos += 4 * size;
  for (let i = 0; i < size; i++) {
    const containerBase = base + keys[i]! * 65536;
    const isRun = runFlags !== undefined && (runFlags[i >> 3]! & (1 << (i & 7))) !== 0;
    if (isRun) {
      need(2, pos);
      const runs = view.getUint16(pos, true);
      pos += 2;
      need(4 * runs, pos);
      for (let r = 0; r < runs; r++) {
        const first = view.getUint16(pos, true);
        const length = view.getUint16(pos + 2, true);
        pos += 4;
        for (let v = first; v <= first + length; v++) rows.push(containerBase + v);
      }
    } else if (cards[i]! <= ARRAY_MAX) {
      need(2 * cards[i]!, pos);
      for (let k = 0; k < cards[i]!; k++) rows.push(containerBase + view.getUint16(pos + 2 * k, true));
      pos += 2 * cards[i]!;
    } else {
      need(8192, pos);
      for (let w = 0; w < 2048; w++) {
        let word = view.getUint32(pos + 4 * w, true);
        while (word !== 0) {
          const bit = 31 - Math.clz32(word & -word);
          rows.push(containerBase + w * 32 + bit);
          word &= word - 1;
        }
      }
      pos += 8192;
    }
  }
  return pos;
}

/** Sorted, distinct, validated copy of row positions. */
function normalizeRows(rows: readonly number[]): number[] {
  const sorted = [...rows].sort((a, b) => a - b);
  const out: number[] = [];
  for (const v of sorted) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new LarderError('INVALID_ARGUMENT', `row position ${v} is not a non-negative safe integer`);
    }
    if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
  }
  return out;
}

/**
 * Serialise row positions as a Delta bitmap (magic number + 64-bit portable
 * Roaring with array and bitmap containers). Duplicates are ignored.
 * @example deserializeRoaring(serializeRoaring([3, 4, 7])) // [3, 4, 7]
 */
export function serializeRoaring(rows: readonly number[]): Uint8Array {
  const values = normalizeRows(rows);
  // Split into buckets (high 32 bits) and containers (next 16 bits).
  type Container = { key: number; lows: number[] };
  const buckets: { high: number; containers: Container[] }[] = [];
  for (const v of values) {
    const high = Math.floor(v / TWO_32);
    const low = v - high * TWO_32;
    let bucket = buckets[buckets.length - 1];
    if (!bucket || bucket.high !== high) {
      bucket = { high, containers: [] };
      buckets.push(bucket);
    }
    const key = low >>> 16;
    let container = bucket.containers[bucket.containers.length - 1];
    if (!container || container.key !== key) {
      container = { key, lows: [] };
      bucket.containers.push(container);
    }
    container.lows.push(low & 0xffff);
  }
  let total = 12;
  for (const bucket of buckets) {
    total += 4 + 8 + 8 * bucket.containers.length;
    for (const c of bucket.containers) total += c.lows.length <= ARRAY_MAX ? 2 * c.lows.length : 8192;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, DV_MAGIC, true);
  view.setBigUint64(4, BigInt(buckets.length), true);
  let pos = 12;
  for (const bucket of buckets) {
    view.setUint32(pos, bucket.high, true);
    pos += 4;
    const start = pos;
    const n = bucket.containers.length;
    view.setUint32(pos, SERIAL_COOKIE_NO_RUN, true);
    view.setUint32(pos + 4, n, true);
    pos += 8;
    for (const c of bucket.containers) {
      view.setUint16(pos, c.key, true);
      view.setUint16(pos + 2, c.lows.length - 1, true);
      pos += 4;
    }
    let dataOffset = pos + 4 * n - start;
    for (const c of bucket.containers) {
      view.setUint32(pos, dataOffset, true);
      pos += 4;
      dataOffset += c.lows.length <= ARRAY_MAX ? 2 * c.lows.length : 8192;
    }
    for (const c of bucket.containers) {
      if (c.lows.length <= ARRAY_MAX) {
        for (const low of c.lows) {
          view.setUint16(pos, low, true);
          pos += 2;
        }
      } else {
        for (const low of c.lows) out[pos + (low >> 3)]! |= 1 << (low & 7);
        pos += 8192;
      }
    }
  }
  return out;
}

/**
 * The deleted row positions (sorted, distinct) of a data file with this
 * deletion vector. Reads only the DV's bytes from its file and checks its
 * size, CRC-32 and cardinality.
 * @example
 * const deleted = await readDeletionVector(snapshot.root, add.deletionVector!);
 */
export async function readDeletionVector(tableRoot: string, dv: DeletionVectorDescriptor): Promise<number[]> {
  let rows: number[];
  let source: string;
  if (dv.storageType === 'i') {
    source = 'inline deletion vector';
    rows = deserializeRoaring(z85Decode(dv.pathOrInlineDv, dv.sizeInBytes), source);
  } else {
    source = deletionVectorPath(tableRoot, dv);
    const bitmap = await readStoredBitmap(source, dv.offset ?? 1, dv.sizeInBytes);
    rows = deserializeRoaring(bitmap, source);
  }
  if (rows.length !== dv.cardinality) {
    throw new LarderError(
      'CORRUPT_LOG',
      `${source} holds ${rows.length} deleted rows, its descriptor says ${dv.cardinality}`,
      { file: source },
    );
  }
  return rows;
}

async function readStoredBitmap(file: string, offset: number, size: number): Promise<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new LarderError('IO_ERROR', `cannot open deletion vector file ${file}`, {
      file,
      cause: error,
      hint: 'the file was deleted (by VACUUM?) or the table was copied without it',
    });
  }
  try {
    const buffer = Buffer.alloc(size + 8);
    const { bytesRead } = await handle.read(buffer, 0, size + 8, offset);
    if (bytesRead < size + 8) {
      throw new LarderError('CORRUPT_LOG', `deletion vector file ${file} is truncated at offset ${offset}`, {
        file,
      });
    }
    const stored = buffer.readUInt32BE(0);
    if (stored !== size) {
      throw new LarderError(
        'CORRUPT_LOG',
        `deletion vector in ${file} at offset ${offset} has size ${stored}, its descriptor says ${size}`,
        { file },
      );
    }
    const bitmap = buffer.subarray(4, 4 + size);
    if (crc32(bitmap) !== buffer.readUInt32BE(4 + size)) {
      throw new LarderError(
        'CORRUPT_LOG',
        `deletion vector in ${file} at offset ${offset} fails its CRC-32`,
        {
          file,
        },
      );
    }
    return bitmap;
  } finally {
    await handle.close();
  }
}

/**
 * Write `rows` as a new deletion-vector file `deletion_vector_<uuid>.bin` in
 * the table root and return its descriptor (storage type `u`, no prefix,
 * offset 1).
 */
export async function writeDeletionVectorFile(
  tableRoot: string,
  rows: readonly number[],
): Promise<DeletionVectorDescriptor> {
  const bitmap = serializeRoaring(rows);
  const uuid = randomUUID();
  const file = Buffer.alloc(1 + 4 + bitmap.length + 4);
  file.writeUInt8(1, 0);
  file.writeUInt32BE(bitmap.length, 1);
  file.set(bitmap, 5);
  file.writeUInt32BE(crc32(bitmap), 5 + bitmap.length);
  const target = path.join(tableRoot, `deletion_vector_${uuid}.bin`);
  try {
    await writeFile(target, file, { flag: 'wx' });
  } catch (error) {
    throw new LarderError('IO_ERROR', `cannot write deletion vector file ${target}`, {
      file: target,
      cause: error,
    });
  }
  return {
    storageType: 'u',
    pathOrInlineDv: z85Encode(Buffer.from(uuid.replaceAll('-', ''), 'hex')),
    offset: 1,
    sizeInBytes: bitmap.length,
    cardinality: new Set(rows).size,
  };
}
