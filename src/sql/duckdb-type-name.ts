/**
 * Parse DuckDB's printed type names (`BIGINT`, `DECIMAL(10,2)`, `VARCHAR[]`,
 * `STRUCT("a" INTEGER, "b" MAP(VARCHAR, BIGINT))`, `TIMESTAMP WITH TIME ZONE`)
 * into a tree, so results can be formatted value by value according to their
 * type (nested BIGINTs included). Unknown names parse as scalars: the parser
 * never fails, it only gives less structure.
 */

export type TypeNode =
  | { readonly kind: 'scalar'; readonly name: string; readonly params: readonly string[] }
  | { readonly kind: 'list'; readonly element: TypeNode }
  | {
      readonly kind: 'struct';
      readonly fields: readonly { readonly name: string; readonly type: TypeNode }[];
    }
  | { readonly kind: 'map'; readonly key: TypeNode; readonly value: TypeNode }
  | {
      readonly kind: 'union';
      readonly members: readonly { readonly name: string; readonly type: TypeNode }[];
    };

/**
 * @example
 * parseTypeName('DECIMAL(10,2)[]'); // { kind: 'list', element: { kind: 'scalar', name: 'DECIMAL', params: ['10', '2'] } }
 */
export function parseTypeName(text: string): TypeNode {
  const parser = new Parser(text);
  return parser.type();
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'VARINT', 'BIGNUM']);

/** Whether a scalar type name is an integer type (signed or unsigned). */
export function isIntegerTypeName(name: string): boolean {
  return INTEGER_TYPES.has(name) || (name.startsWith('U') && INTEGER_TYPES.has(name.slice(1)));
}

/** Whether values of this type are numbers (and so are right-aligned in tables). */
export function isNumericType(type: TypeNode): boolean {
  return (
    type.kind === 'scalar' &&
    (isIntegerTypeName(type.name) ||
      type.name === 'FLOAT' ||
      type.name === 'DOUBLE' ||
      type.name === 'DECIMAL')
  );
}

class Parser {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  type(): TypeNode {
    this.#space();
    let node = this.#base();
    for (;;) {
      this.#space();
      if (this.#text[this.#at] !== '[') return node;
      const close = this.#text.indexOf(']', this.#at);
      this.#at = close < 0 ? this.#text.length : close + 1;
      node = { kind: 'list', element: node };
    }
  }

  #base(): TypeNode {
    const rest = this.#text.slice(this.#at);
    const composite = /^(STRUCT|MAP|UNION)\s*\(/i.exec(rest);
    if (composite) {
      this.#at += composite[0].length;
      const kind = composite[1]!.toUpperCase();
      if (kind === 'MAP') {
        const key = this.type();
        this.#expect(',');
        const value = this.type();
        this.#expect(')');
        return { kind: 'map', key, value };
      }
      const fields: { name: string; type: TypeNode }[] = [];
      for (;;) {
        this.#space();
        if (this.#text[this.#at] === ')' || this.#at >= this.#text.length) break;
        const name = this.#name();
        fields.push({ name, type: this.type() });
        this.#space();
        if (this.#text[this.#at] === ',') this.#at++;
      }
      this.#expect(')');
      return kind === 'STRUCT' ? { kind: 'struct', fields } : { kind: 'union', members: fields };
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*(?:\s+(?:WITH|WITHOUT)\s+TIME\s+ZONE)?/i.exec(rest)?.[0] ?? '';
    this.#at += name.length;
    const params: string[] = [];
    this.#space();
    if (this.#text[this.#at] === '(') {
      const close = this.#closing(this.#at);
      params.push(
        ...this.#text
          .slice(this.#at + 1, close)
          .split(',')
          .map((p) => p.trim()),
      );
      this.#at = close + 1;
    }
    return { kind: 'scalar', name: name.toUpperCase().replace(/\s+/g, ' '), params };
  }

  /** A field name: quoted with `"` (doubled to escape) or bare. */
  #name(): string {
    this.#space();
    if (this.#text[this.#at] === '"') {
      let out = '';
      let j = this.#at + 1;
      while (j < this.#text.length) {
        if (this.#text[j] === '"') {
          if (this.#text[j + 1] === '"') {
            out += '"';
            j += 2;
            continue;
          }
          j++;
          break;
        }
        out += this.#text[j];
        j++;
      }
      this.#at = j;
      return out;
    }
    const bare = /^[^\s,()]+/.exec(this.#text.slice(this.#at))?.[0] ?? '';
    this.#at += bare.length;
    return bare;
  }

  /** Index of the `)` closing the `(` at `open`, skipping quoted text (ENUM labels). */
  #closing(open: number): number {
    let depth = 0;
    for (let j = open; j < this.#text.length; j++) {
      const c = this.#text[j];
      if (c === "'" || c === '"') {
        const end = this.#text.indexOf(c, j + 1);
        j = end < 0 ? this.#text.length : end;
      } else if (c === '(') depth++;
      else if (c === ')') {
        depth--;
        if (depth === 0) return j;
      }
    }
    return this.#text.length;
  }

  #expect(ch: string): void {
    this.#space();
    if (this.#text[this.#at] === ch) this.#at++;
  }

  #space(): void {
    while (this.#at < this.#text.length && /\s/.test(this.#text[this.#at]!)) this.#at++;
  }
}
