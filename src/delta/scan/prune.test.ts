import { describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import type { Add } from '../log/actions.js';
import type { StructField, StructType } from '../log/schema.js';
import type { Literal, Predicate } from './predicate.js';
import { fileMayMatch, type PruneContext, predicateFromSql, pruneContextOf } from './prune.js';

const field = (
  name: string,
  type: StructField['type'],
  metadata: Record<string, unknown> = {},
): StructField => ({
  name,
  type,
  nullable: true,
  metadata,
});

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('id', 'long'),
    field('name', 'string'),
    field('score', 'double'),
    field('ratio', 'float'),
    field('day', 'date'),
    field('ts', 'timestamp'),
    field('local', 'timestamp_ntz'),
    field('amount', 'decimal(10,2)'),
    field('flag', 'boolean'),
    field('blob', 'binary'),
    field('part', 'string'),
    field('pday', 'date'),
    field('pnum', 'integer'),
  ],
};
const CTX = pruneContextOf(SCHEMA, ['part', 'pday', 'pnum'], 'none');

let counter = 0;
function file(stats?: object, partitionValues: Record<string, string | null> = {}): Add {
  counter += 1;
  return {
    path: `f${counter}.parquet`,
    partitionValues,
    size: 1,
    modificationTime: 0,
    dataChange: true,
    stats: stats === undefined ? undefined : JSON.stringify(stats),
  };
}

function stats(column: string, min: unknown, max: unknown, nullCount = 0, numRecords = 10): object {
  return {
    numRecords,
    minValues: { [column]: min },
    maxValues: { [column]: max },
    nullCount: { [column]: nullCount },
  };
}

const cmp = (column: string, op: '=' | '!=' | '<' | '<=' | '>' | '>=', value: Literal): Predicate => ({
  kind: 'compare',
  op,
  column,
  value,
});
const not = (child: Predicate): Predicate => ({ kind: 'not', child });
const and = (...children: Predicate[]): Predicate => ({ kind: 'and', children });
const or = (...children: Predicate[]): Predicate => ({ kind: 'or', children });

function matches(add: Add, predicate: Predicate, context: PruneContext = CTX): boolean {
  return fileMayMatch(add, predicate, context);
}

describe('pruning by partition values', () => {
  const a = file(undefined, { part: 'a', pday: '2024-01-05', pnum: '7' });
  const nulls = file(undefined, { part: null, pday: '', pnum: null });

  it('keeps only files whose partition value satisfies the comparison', () => {
    expect(matches(a, cmp('part', '=', 'a'))).toBe(true);
    expect(matches(a, cmp('part', '=', 'b'))).toBe(false);
    expect(matches(a, cmp('part', '!=', 'a'))).toBe(false);
    expect(matches(a, { kind: 'in', column: 'part', values: ['b', 'a'] })).toBe(true);
    expect(matches(a, { kind: 'in', column: 'part', values: ['b', 'c'] })).toBe(false);
  });

  it('compares dates and numbers by value, not as text', () => {
    expect(matches(a, cmp('pnum', '>', 10))).toBe(false);
    expect(matches(a, cmp('pnum', '<', 10))).toBe(true);
    expect(matches(a, cmp('pnum', '=', '7'))).toBe(true);
    expect(matches(a, cmp('pday', '>=', '2024-01-10'))).toBe(false);
    expect(matches(a, cmp('pday', '<', '2024-01-10'))).toBe(true);
  });

  it('treats null and empty partition values as NULL, which no comparison matches', () => {
    expect(matches(nulls, cmp('part', '=', 'a'))).toBe(false);
    expect(matches(nulls, cmp('part', '!=', 'a'))).toBe(false);
    expect(matches(nulls, { kind: 'isNull', column: 'pday', negated: false })).toBe(true);
    expect(matches(nulls, { kind: 'isNull', column: 'pday', negated: true })).toBe(false);
    expect(matches(a, { kind: 'isNull', column: 'part', negated: false })).toBe(false);
  });

  it('reads partition values under physical names with column mapping', () => {
    const schema: StructType = {
      type: 'struct',
      fields: [
        field('p', 'string', { 'delta.columnMapping.physicalName': 'col-123', 'delta.columnMapping.id': 1 }),
      ],
    };
    const context = pruneContextOf(schema, ['p'], 'name');
    const f = file(undefined, { 'col-123': 'x' });
    expect(matches(f, cmp('p', '=', 'x'), context)).toBe(true);
    expect(matches(f, cmp('p', '=', 'y'), context)).toBe(false);
  });
});

describe('pruning by stats', () => {
  it('skips files whose [min, max] excludes the value', () => {
    const f = file(stats('id', 10, 20));
    expect(matches(f, cmp('id', '=', 15))).toBe(true);
    expect(matches(f, cmp('id', '=', 21))).toBe(false);
    expect(matches(f, cmp('id', '<', 10))).toBe(false);
    expect(matches(f, cmp('id', '<=', 10))).toBe(true);
    expect(matches(f, cmp('id', '>', 20))).toBe(false);
    expect(matches(f, cmp('id', '>=', 20))).toBe(true);
    expect(matches(f, { kind: 'in', column: 'id', values: [1, 2, 30] })).toBe(false);
    expect(matches(f, { kind: 'in', column: 'id', values: [1, 12] })).toBe(true);
  });

  it('compares by the column type: 100 is outside [9, 10] for a number, inside for a string', () => {
    expect(matches(file(stats('id', 9, 10)), cmp('id', '=', 100))).toBe(false);
    expect(matches(file(stats('name', '10', '9')), cmp('name', '=', '100'))).toBe(true);
    expect(matches(file(stats('day', '2024-01-02', '2024-01-09')), cmp('day', '=', '2024-01-10'))).toBe(
      false,
    );
    expect(matches(file(stats('day', '2024-01-02', '2024-01-09')), cmp('day', '>', '2024-01-08'))).toBe(true);
    expect(matches(file(stats('day', '0024-01-01', '0024-12-31')), cmp('day', '=', '1924-06-01'))).toBe(
      false,
    );
    expect(matches(file(stats('day', '0024-01-01', '0024-12-31')), cmp('day', '=', '0024-06-01'))).toBe(true);
    expect(matches(file(stats('amount', 1.5, 2.25)), cmp('amount', '>', 2.3))).toBe(false);
    expect(matches(file(stats('amount', 1.5, 2.25)), cmp('amount', '>=', '2.25'))).toBe(true);
  });

  it('proves x != v false only when every value equals v', () => {
    expect(matches(file(stats('id', 5, 5)), cmp('id', '!=', 5))).toBe(false);
    expect(matches(file(stats('id', 5, 6)), cmp('id', '!=', 5))).toBe(true);
    expect(matches(file(stats('name', 'ab', 'ab')), cmp('name', '!=', 'ab'))).toBe(true);
  });

  it('keeps files without stats, without the column, or with a type it cannot order', () => {
    expect(matches(file(), cmp('id', '=', 1))).toBe(true);
    expect(matches(file({ numRecords: 3 }), cmp('id', '=', 1))).toBe(true);
    expect(matches(file(stats('other', 1, 2)), cmp('id', '=', 100))).toBe(true);
    expect(matches(file(stats('blob', 'a', 'b')), cmp('blob', '=', 'z'))).toBe(true);
    expect(matches(file(stats('id', 1, 2)), cmp('nope', '=', 100))).toBe(true);
    expect(matches(file(stats('id', 1, 2)), cmp('id', '=', 'not a number'))).toBe(true);
    const corrupt = { ...file(), stats: '{"numRecords": 3, "minValues": {' };
    expect(matches(corrupt, cmp('id', '=', 100))).toBe(true);
  });

  it('resolves column names case-insensitively, as SQL does', () => {
    expect(matches(file(stats('id', 1, 2)), cmp('ID', '=', 100))).toBe(false);
  });

  it('uses null counts for IS NULL, IS NOT NULL and all-null columns', () => {
    const noNulls = file(stats('id', 1, 2, 0));
    const allNull = file({ numRecords: 4, nullCount: { id: 4 } });
    const some = file(stats('id', 1, 2, 3));
    expect(matches(noNulls, { kind: 'isNull', column: 'id', negated: false })).toBe(false);
    expect(matches(some, { kind: 'isNull', column: 'id', negated: false })).toBe(true);
    expect(matches(allNull, { kind: 'isNull', column: 'id', negated: true })).toBe(false);
    expect(matches(allNull, cmp('id', '<', 100))).toBe(false);
    expect(matches(some, { kind: 'isNull', column: 'id', negated: true })).toBe(true);
  });

  it('skips files with no records', () => {
    expect(matches(file({ numRecords: 0 }), { kind: 'isNull', column: 'id', negated: false })).toBe(false);
  });

  it('treats a string maximum as a possibly truncated prefix', () => {
    const f = file(stats('name', 'aaa', 'abc'));
    expect(matches(f, cmp('name', '=', 'abcz'))).toBe(true);
    expect(matches(f, cmp('name', '>', 'abc'))).toBe(true);
    expect(matches(f, cmp('name', '>=', 'abd'))).toBe(false);
    expect(matches(f, cmp('name', '<', 'aaa'))).toBe(false);
  });

  it('orders strings by code point (UTF-8 bytes), not UTF-16 units', () => {
    // U+FF5E sorts below U+1F600 by code point, above it by UTF-16 unit.
    const f = file(stats('name', '\uff5e', '\uff5e'));
    expect(matches(f, cmp('name', '>', '\u{1f600}'))).toBe(false);
    expect(matches(f, cmp('name', '<', '\u{1f600}'))).toBe(true);
  });

  it('widens timestamp bounds by a millisecond, as stats are truncated to milliseconds', () => {
    const f = file(stats('ts', '2024-01-01T00:00:00.000Z', '2024-01-01T10:00:00.000Z'));
    expect(matches(f, cmp('ts', '=', '2024-01-01 10:00:00.000500'))).toBe(true);
    expect(matches(f, cmp('ts', '>', '2024-01-01 10:00:00.002'))).toBe(false);
    expect(matches(f, cmp('ts', '>', '2024-01-01T11:00:00+02:00'))).toBe(true);
    expect(matches(f, cmp('ts', '>', '2024-01-01T11:00:00+00:00'))).toBe(false);
    expect(matches(f, cmp('ts', '<', '2024-01-01'))).toBe(true);
    expect(matches(f, cmp('ts', '<', '2023-12-31 23:59:59'))).toBe(false);
    const ntz = file(stats('local', '2024-04-02T20:58:52.292', '2024-04-02T20:58:52.292'));
    expect(matches(ntz, cmp('local', '=', '2024-04-02 20:58:52.292957'))).toBe(true);
    expect(matches(ntz, cmp('local', '>', '2024-04-02 21:00:00'))).toBe(false);
  });

  it('allows for float stats printed as their shortest decimal', () => {
    // float32(0.1) is 0.100000001…, above 0.1 as a double.
    expect(matches(file(stats('ratio', 0, 0.1)), cmp('ratio', '>', 0.1))).toBe(true);
    expect(matches(file(stats('score', 0, 0.1)), cmp('score', '>', 0.2))).toBe(false);
  });

  it('keeps files whose integer bounds lost precision beyond 2^53', () => {
    const f = file(stats('id', 0, 2 ** 60));
    expect(matches(f, cmp('id', '>', 2n ** 62n))).toBe(true);
  });

  it('reads stats under physical names with column mapping', () => {
    const schema: StructType = {
      type: 'struct',
      fields: [
        field('n', 'long', { 'delta.columnMapping.physicalName': 'col-9', 'delta.columnMapping.id': 1 }),
      ],
    };
    const context = pruneContextOf(schema, [], 'name');
    expect(matches(file(stats('col-9', 1, 5)), cmp('n', '>', 5), context)).toBe(false);
    expect(matches(file(stats('col-9', 1, 5)), cmp('n', '>', 4), context)).toBe(true);
  });
});

describe('pruning by boolean combinations', () => {
  const f = file({
    numRecords: 10,
    minValues: { id: 1, day: '2024-01-01' },
    maxValues: { id: 5, day: '2024-01-31' },
    nullCount: { id: 0, day: 0 },
  });

  it('needs every conjunct and some disjunct to be possible', () => {
    expect(matches(f, and(cmp('id', '>', 2), cmp('day', '<', '2024-02-01')))).toBe(true);
    expect(matches(f, and(cmp('id', '>', 2), cmp('day', '>', '2024-02-01')))).toBe(false);
    expect(matches(f, or(cmp('id', '>', 9), cmp('day', '>', '2024-02-01')))).toBe(false);
    expect(matches(f, or(cmp('id', '>', 9), cmp('day', '=', '2024-01-15')))).toBe(true);
    expect(matches(f, and())).toBe(true);
    expect(matches(f, or())).toBe(false);
  });

  it('pushes NOT down to the comparisons', () => {
    expect(matches(f, not(cmp('id', '<=', 5)))).toBe(false);
    expect(matches(f, not(cmp('id', '<', 5)))).toBe(true);
    expect(matches(f, not(or(cmp('id', '<', 9), cmp('day', '=', 'x'))))).toBe(false);
    expect(matches(f, not(and(cmp('id', '<', 9), cmp('id', '>', 0))))).toBe(false);
    expect(matches(f, not(not(cmp('id', '>', 9))))).toBe(false);
    expect(matches(f, not({ kind: 'isNull', column: 'id', negated: true }))).toBe(false);
    expect(matches(f, not({ kind: 'in', column: 'id', values: [1, 2] }))).toBe(true);
    expect(matches(file(stats('id', 3, 3)), not({ kind: 'in', column: 'id', values: [3] }))).toBe(false);
  });

  it('knows comparisons with NULL are never true', () => {
    expect(matches(f, cmp('id', '=', null))).toBe(false);
    expect(matches(f, not(cmp('id', '=', null)))).toBe(false);
    expect(matches(f, { kind: 'in', column: 'id', values: [null] })).toBe(false);
    expect(matches(f, not({ kind: 'in', column: 'id', values: [7, null] }))).toBe(false);
  });
});

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

/** SQL three-valued truth of a predicate on one row: true, false or null (unknown). */
function truth(p: Predicate, row: Record<string, number | string | null>): boolean | null {
  switch (p.kind) {
    case 'and': {
      let result: boolean | null = true;
      for (const c of p.children) {
        const v = truth(c, row);
        if (v === false) return false;
        if (v === null) result = null;
      }
      return result;
    }
    case 'or': {
      let result: boolean | null = false;
      for (const c of p.children) {
        const v = truth(c, row);
        if (v === true) return true;
        if (v === null) result = null;
      }
      return result;
    }
    case 'not': {
      const v = truth(p.child, row);
      return v === null ? null : !v;
    }
    case 'isNull':
      return (row[p.column] === null) !== p.negated;
    case 'compare': {
      const x = row[p.column];
      if (x === null || x === undefined || p.value === null) return null;
      const v = p.value as number | string;
      switch (p.op) {
        case '=':
          return x === v;
        case '!=':
          return x !== v;
        case '<':
          return x < v;
        case '<=':
          return x <= v;
        case '>':
          return x > v;
        case '>=':
          return x >= v;
      }
      return null;
    }
    case 'in': {
      const x = row[p.column];
      if (x === null || x === undefined) return null;
      if (p.values.includes(x)) return true;
      return p.values.includes(null) ? null : false;
    }
  }
}

describe('pruning is safe', () => {
  it('never skips a file that holds a row satisfying a random predicate', () => {
    const seed = Date.now() % 1_000_000;
    const random = rng(seed);
    const int = (n: number) => Math.floor(random() * n);
    const letters = ['a', 'ab', 'b', 'ba', 'c', 'zz'];
    const value = (column: string): number | string | null =>
      random() < 0.15 ? null : column === 'id' || column === 'pnum' ? int(40) : letters[int(letters.length)]!;
    const literal = (column: string): Literal =>
      random() < 0.05
        ? null
        : column === 'id' || column === 'pnum'
          ? int(44) - 2
          : letters[int(letters.length)]!;
    const columns = ['id', 'name', 'part', 'pnum'];
    const ops = ['=', '!=', '<', '<=', '>', '>='] as const;
    const randomPredicate = (depth: number): Predicate => {
      const r = random();
      if (depth > 0 && r < 0.3) {
        const children = Array.from({ length: 1 + int(3) }, () => randomPredicate(depth - 1));
        return random() < 0.5 ? and(...children) : or(...children);
      }
      if (depth > 0 && r < 0.4) return not(randomPredicate(depth - 1));
      const column = columns[int(columns.length)]!;
      if (r < 0.55) return { kind: 'isNull', column, negated: random() < 0.5 };
      if (r < 0.7)
        return { kind: 'in', column, values: Array.from({ length: 1 + int(3) }, () => literal(column)) };
      return cmp(column, ops[int(ops.length)]!, literal(column));
    };
    let skipped = 0;
    for (let round = 0; round < 3000; round++) {
      const part = value('part');
      const pnum = value('pnum');
      const rows = Array.from({ length: 1 + int(6) }, () => ({
        id: value('id'),
        name: value('name'),
        part,
        pnum,
      }));
      const stat = (column: 'id' | 'name', pick: (a: number | string, b: number | string) => boolean) => {
        const present = rows.map((r) => r[column]).filter((v): v is number | string => v !== null);
        return present.length === 0 ? undefined : present.reduce((a, b) => (pick(a, b) ? a : b));
      };
      const nameMax = stat('name', (a, b) => a > b);
      const add = file(
        {
          numRecords: rows.length,
          minValues: { id: stat('id', (a, b) => a < b), name: stat('name', (a, b) => a < b) },
          // Truncate string maxima to one character, as a writer may.
          maxValues: {
            id: stat('id', (a, b) => a > b),
            name: typeof nameMax === 'string' ? nameMax.slice(0, 1) : undefined,
          },
          nullCount: {
            id: rows.filter((r) => r.id === null).length,
            name: rows.filter((r) => r.name === null).length,
          },
        },
        { part: part === null ? null : String(part), pnum: pnum === null ? '' : String(pnum) },
      );
      const predicate = randomPredicate(3);
      const anyRow = rows.some((row) => truth(predicate, row) === true);
      const may = matches(add, predicate);
      if (anyRow)
        expect(
          may,
          `seed ${seed}, round ${round}: ${JSON.stringify(predicate)} ${JSON.stringify(rows)}`,
        ).toBe(true);
      if (!may) skipped++;
    }
    expect(skipped, `seed ${seed}: pruning should skip some files`).toBeGreaterThan(0);
  });
});

describe('predicateFromSql', () => {
  it('translates comparisons, IN, BETWEEN, IS NULL and boolean structure', async () => {
    expect(
      await predicateFromSql(
        "t.id = 1 AND (day > DATE '2024-01-01' OR name IN ('x', 'y')) AND score IS NOT NULL",
      ),
    ).toEqual(
      and(
        cmp('id', '=', 1),
        or(cmp('day', '>', '2024-01-01'), { kind: 'in', column: 'name', values: ['x', 'y'] }),
        { kind: 'isNull', column: 'score', negated: true },
      ),
    );
    expect(await predicateFromSql('id BETWEEN 1 AND 5')).toEqual(and(cmp('id', '>=', 1), cmp('id', '<=', 5)));
    expect(await predicateFromSql('id NOT IN (1, 2)')).toEqual(
      not({ kind: 'in', column: 'id', values: [1, 2] }),
    );
    expect(await predicateFromSql('NOT (id > 3 OR id < 1)')).toEqual(
      not(or(cmp('id', '>', 3), cmp('id', '<', 1))),
    );
    expect(await predicateFromSql('id IS NULL')).toEqual({ kind: 'isNull', column: 'id', negated: false });
  });

  it('flips comparisons whose constant is on the left', async () => {
    expect(await predicateFromSql('3 < id')).toEqual(cmp('id', '>', 3));
    expect(await predicateFromSql('10 >= id')).toEqual(cmp('id', '<=', 10));
  });

  it('evaluates typed constants: dates, timestamps, booleans, decimals, negatives, casts', async () => {
    expect(await predicateFromSql("ts >= TIMESTAMP '2024-01-01 10:00:00'")).toEqual(
      cmp('ts', '>=', '2024-01-01 10:00:00'),
    );
    expect(await predicateFromSql("ts < '2024-01-01 10:00:00+02'::TIMESTAMPTZ")).toEqual(
      cmp('ts', '<', '2024-01-01 10:00:00+02'),
    );
    expect(await predicateFromSql('flag = true')).toEqual(cmp('flag', '=', true));
    expect(await predicateFromSql('amount > -1.25')).toEqual(cmp('amount', '>', -1.25));
    expect(await predicateFromSql('id = 2::BIGINT')).toEqual(cmp('id', '=', 2));
    expect(await predicateFromSql("id = '7'::INTEGER")).toEqual(cmp('id', '=', 7));
    expect(await predicateFromSql('score = 1.5e3')).toEqual(cmp('score', '=', 1500));
    expect(await predicateFromSql('id = NULL')).toEqual(cmp('id', '=', null));
  });

  it('translates IS [NOT] DISTINCT FROM', async () => {
    expect(await predicateFromSql('id IS NOT DISTINCT FROM 4')).toEqual(cmp('id', '=', 4));
    expect(await predicateFromSql('id IS DISTINCT FROM 4')).toEqual(
      or(cmp('id', '!=', 4), { kind: 'isNull', column: 'id', negated: false }),
    );
  });

  it('drops untranslatable conjuncts but not untranslatable disjuncts', async () => {
    expect(await predicateFromSql("id = 1 AND lower(name) = 'x'")).toEqual(cmp('id', '=', 1));
    expect(await predicateFromSql("id = 1 OR lower(name) = 'x'")).toBeUndefined();
    expect(await predicateFromSql('id = other_column')).toBeUndefined();
    expect(await predicateFromSql('id = 9223372036854775807')).toBeUndefined();
    expect(await predicateFromSql("name LIKE 'a%'")).toBeUndefined();
  });

  it('keeps the logic safe under NOT: an AND missing a part is not negated', async () => {
    expect(await predicateFromSql("NOT (id = 1 AND lower(name) = 'x')")).toBeUndefined();
    expect(await predicateFromSql("NOT (id = 1 OR lower(name) = 'x')")).toEqual(not(cmp('id', '=', 1)));
  });

  it('takes the last part of a qualified column, or only listed qualifiers when given', async () => {
    expect(await predicateFromSql('s.t.id = 1')).toEqual(cmp('id', '=', 1));
    expect(await predicateFromSql('o.id = 1 AND t.day = 2', { qualifiers: ['t'] })).toEqual(
      cmp('day', '=', 2),
    );
  });

  it('fails with INVALID_ARGUMENT on text DuckDB cannot parse, and ignores what is not a filter', async () => {
    const error = await predicateFromSql('id = = 1').catch((e: unknown) => e);
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect(await predicateFromSql('id = 1 UNION SELECT 1')).toBeUndefined();
    expect(await predicateFromSql('id = 1 LIMIT 1')).toBeUndefined();
  });
});
