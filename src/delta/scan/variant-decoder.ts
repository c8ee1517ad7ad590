/**
 * Variant values (PROTOCOL.md "Variant Data Type", reader-writer feature
 * `variantType`): a Parquet struct of two binaries, `metadata` (a string
 * dictionary) and `value`, in the Parquet Variant binary encoding
 * (parquet-format `VariantEncoding.md`). Larder exposes a variant column as
 * its JSON text, one of the representations the protocol allows readers.
 *
 * Hand-written because no JavaScript library decodes the encoding, and
 * DuckDB (1.5) decodes it only from Parquet columns annotated with the
 * VARIANT logical type, which Delta's unannotated struct is not; the
 * decoder runs inside the scan's SQL as the scalar function
 * `larder_variant_to_json(metadata, value)`.
 *
 * Invariants: every encoding of the spec decodes (primitives, short strings,
 * objects and arrays with 1–4 byte offsets and ids, large and small);
 * integers and decimals keep every digit; bytes that do not follow the spec
 * are an error naming what is wrong, never a guess.
 */
import { BLOB, DuckDBScalarFunction, VARCHAR } from '@duckdb/node-api';
import { duckdbInstance } from '../../duckdb/duckdb.js';

/** The name of the SQL function decoding a variant to JSON text. */
export const VARIANT_TO_JSON = 'larder_variant_to_json';

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {}

  check(end: number): void {
    if (end > this.bytes.length) throw new Error(`variant ${this.what} is truncated`);
  }

  /** Unsigned little-endian integer of `size` (1–4) bytes at `at`. */
  uint(at: number, size: number): number {
    this.check(at + size);
    let n = 0;
    for (let i = size - 1; i >= 0; i--) n = n * 256 + this.bytes[at + i]!;
    return n;
  }

  view(at: number, size: number): DataView {
    this.check(at + size);
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + at, size);
  }

  text(at: number, size: number): string {
    this.check(at + size);
    return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(at, at + size));
  }
}

/** The dictionary of a variant's metadata. */
function dictionary(metadata: Uint8Array): string[] {
  const r = new Reader(metadata, 'metadata');
  const header = r.uint(0, 1);
  if ((header & 0x0f) !== 1) throw new Error(`variant metadata version ${header & 0x0f} is not 1`);
  const offsetSize = ((header >> 6) & 0x03) + 1;
  const size = r.uint(1, offsetSize);
  const offsets = 1 + offsetSize;
  const strings = offsets + (size + 1) * offsetSize;
  const keys: string[] = [];
  for (let i = 0; i < size; i++) {
    const start = r.uint(offsets + i * offsetSize, offsetSize);
    const end = r.uint(offsets + (i + 1) * offsetSize, offsetSize);
    keys.push(r.text(strings + start, end - start));
  }
  return keys;
}

/** The decimal text of `unscaled × 10^-scale`. */
function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

const pad = (n: number | bigint, width = 2) => String(n).padStart(width, '0');

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` of microseconds (or nanoseconds) since the epoch. */
function timestampText(ticks: bigint, perSecond: bigint): string {
  let seconds = ticks / perSecond;
  let fraction = ticks % perSecond;
  if (fraction < 0n) {
    fraction += perSecond;
    seconds -= 1n;
  }
  const date = new Date(Number(seconds) * 1000);
  const day = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const width = perSecond === 1_000_000n ? 6 : 9;
  const frac = fraction === 0n ? '' : `.${pad(fraction, width).replace(/0+$/, '')}`;
  return `${day} ${time}${frac}`;
}

function numberJson(n: number): string {
  return Number.isFinite(n) ? String(n) : JSON.stringify(String(n));
}

/** The JSON text of the value at `at`. */
function valueJson(r: Reader, at: number, keys: readonly string[]): string {
  const header = r.uint(at, 1);
  const basic = header & 0x03;
  const info = header >> 2;
  const body = at + 1;
  switch (basic) {
    case 1: // short string: info is the length
      return JSON.stringify(r.text(body, info));
    case 2: {
      // object
      const offsetSize = (info & 0x03) + 1;
      const idSize = ((info >> 2) & 0x03) + 1;
      const countSize = (info >> 4) & 0x01 ? 4 : 1;
      const count = r.uint(body, countSize);
      const ids = body + countSize;
      const offsets = ids + count * idSize;
      const values = offsets + (count + 1) * offsetSize;
      const fields: string[] = [];
      for (let i = 0; i < count; i++) {
        const id = r.uint(ids + i * idSize, idSize);
        const key = keys[id];
        if (key === undefined)
          throw new Error(`variant object field id ${id} is not in the metadata dictionary`);
        const offset = r.uint(offsets + i * offsetSize, offsetSize);
        fields.push(`${JSON.stringify(key)}:${valueJson(r, values + offset, keys)}`);
      }
      return `{${fields.join(',')}}`;
    }
    case 3: {
      // array
      const offsetSize = (info & 0x03) + 1;
      const countSize = (info >> 2) & 0x01 ? 4 : 1;
      const count = r.uint(body, countSize);
      const offsets = body + countSize;
      const values = offsets + (count + 1) * offsetSize;
      const elements: string[] = [];
      for (let i = 0; i < count; i++) {
        elements.push(valueJson(r, values + r.uint(offsets + i * offsetSize, offsetSize), keys));
      }
      return `[${elements.join(',')}]`;
    }
    default:
      return primitiveJson(r, info, body);
  }
}

function primitiveJson(r: Reader, type: number, at: number): string {
  switch (type) {
    case 0:
      return 'null';
    case 1:
      return 'true';
    case 2:
      return 'false';
    case 3:
      return String(r.view(at, 1).getInt8(0));
    case 4:
      return String(r.view(at, 2).getInt16(0, true));
    case 5:
      return String(r.view(at, 4).getInt32(0, true));
    case 6:
      return r.view(at, 8).getBigInt64(0, true).toString();
    case 7:
      return numberJson(r.view(at, 8).getFloat64(0, true));
    case 8:
      return decimalText(BigInt(r.view(at + 1, 4).getInt32(0, true)), r.uint(at, 1));
    case 9:
      return decimalText(r.view(at + 1, 8).getBigInt64(0, true), r.uint(at, 1));
    case 10: {
      const v = r.view(at + 1, 16);
      const unscaled = (v.getBigInt64(8, true) << 64n) | v.getBigUint64(0, true);
      return decimalText(unscaled, r.uint(at, 1));
    }
    case 11: {
      const days = r.view(at, 4).getInt32(0, true);
      return JSON.stringify(timestampText(BigInt(days) * 86_400_000_000n, 1_000_000n).slice(0, -9));
    }
    case 12:
      return JSON.stringify(`${timestampText(r.view(at, 8).getBigInt64(0, true), 1_000_000n)}+00:00`);
    case 13:
      return JSON.stringify(timestampText(r.view(at, 8).getBigInt64(0, true), 1_000_000n));
    case 14:
      return numberJson(r.view(at, 4).getFloat32(0, true));
    case 15: {
      const size = r.uint(at, 4);
      r.check(at + 4 + size);
      return JSON.stringify(Buffer.from(r.bytes.subarray(at + 4, at + 4 + size)).toString('base64'));
    }
    case 16:
      return JSON.stringify(r.text(at + 4, r.uint(at, 4)));
    case 17:
      return JSON.stringify(timestampText(r.view(at, 8).getBigInt64(0, true), 1_000_000n).slice(11));
    case 18:
      return JSON.stringify(`${timestampText(r.view(at, 8).getBigInt64(0, true), 1_000_000_000n)}+00:00`);
    case 19:
      return JSON.stringify(timestampText(r.view(at, 8).getBigInt64(0, true), 1_000_000_000n));
    case 20: {
      r.check(at + 16);
      const hex = Buffer.from(r.bytes.subarray(at, at + 16)).toString('hex');
      return JSON.stringify(
        `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
      );
    }
    default:
      throw new Error(`variant primitive type ${type} is unknown`);
  }
}

/**
 * The JSON text of a variant. Throws an `Error` saying what is wrong when
 * the bytes do not follow the encoding.
 *
 * @example
 * variantToJson(Uint8Array.of(0x01, 0x00, 0x00), Uint8Array.of(0x0c, 0x2a)); // '42'
 */
export function variantToJson(metadata: Uint8Array, value: Uint8Array): string {
  return valueJson(new Reader(value, 'value'), 0, dictionary(metadata));
}

let registered: Promise<void> | undefined;

/**
 * Register `larder_variant_to_json(metadata BLOB, value BLOB) → VARCHAR` in
 * the process's DuckDB instance (once; functions are visible to every
 * connection of the instance).
 */
export function registerVariantFunction(): Promise<void> {
  registered ??= (async () => {
    const connection = await (await duckdbInstance()).connect();
    try {
      connection.registerScalarFunction(
        DuckDBScalarFunction.create({
          name: VARIANT_TO_JSON,
          returnType: VARCHAR,
          parameterTypes: [BLOB, BLOB],
          mainFunction: (info, input, output) => {
            const metadata = input.getColumnVector(0);
            const value = input.getColumnVector(1);
            try {
              for (let i = 0; i < input.rowCount; i++) {
                const m = metadata.getItem(i) as { bytes: Uint8Array } | null;
                const v = value.getItem(i) as { bytes: Uint8Array } | null;
                output.setItem(i, m === null || v === null ? null : variantToJson(m.bytes, v.bytes));
              }
              output.flush();
            } catch (error) {
              info.setError((error as Error).message);
            }
          },
        }),
      );
    } finally {
      connection.closeSync();
    }
  })();
  return registered;
}
