import { describe, expect, it } from 'vitest';
import { qualifiersOf, requalify, splitKeyEqualities } from './qualified-references.js';

describe('requalify', () => {
  const rules = [
    { qualifiers: qualifiersOf(['ml', 's', 'features'], 'tgt'), replacement: 't' },
    { qualifiers: qualifiersOf(['ml', 's', 'updates']), replacement: 's' },
  ];

  it('turns the target alias into t and every suffix of the source name into s', () => {
    expect(requalify('tgt.id = updates.id AND tgt.v < ml.s.updates.v AND s.updates.x', rules)).toBe(
      't.id = s.id AND t.v < s.v AND s.x',
    );
  });

  it('keeps strings, comments, unqualified names and members of longer chains', () => {
    expect(requalify("tgt.id = 'tgt.id' /* tgt.x */ AND id = 1 AND tgt.s.field = updates.arr", rules)).toBe(
      "t.id = 'tgt.id' /* tgt.x */ AND id = 1 AND t.s.field = s.arr",
    );
  });

  it('compares qualifiers case-insensitively and accepts quoted ones', () => {
    expect(requalify('TGT.id = "updates".id', rules)).toBe('t.id = s.id');
  });

  it('drops a qualifier when the replacement is empty', () => {
    expect(requalify('a.x + a."y z" > 1', [{ qualifiers: [['a']], replacement: '' }])).toBe('x + "y z" > 1');
  });

  it('keeps an outer column qualified inside a subquery, and leaves table names alone', () => {
    const own = [{ qualifiers: qualifiersOf(['ml', 's', 'facts'], 'f'), replacement: '', nested: 't' }];
    expect(
      requalify('f.x > 0 AND EXISTS (SELECT 1 FROM f.picked p WHERE p.id = f.id AND (f.x) > 1) OR f.y', own),
    ).toBe('x > 0 AND EXISTS (SELECT 1 FROM f.picked p WHERE p.id = t.id AND (t.x) > 1) OR y');
  });

  it('swaps aliases named like the other side in one pass', () => {
    expect(
      requalify('s.id = t.id', [
        { qualifiers: [['s']], replacement: 't' },
        { qualifiers: [['t']], replacement: 's' },
      ]),
    ).toBe('t.id = s.id');
  });
});

describe('splitKeyEqualities', () => {
  it('finds same-named column equalities in a conjunction', () => {
    expect(splitKeyEqualities('t.id = s.id AND s.day = t.day')).toEqual({
      keys: ['id', 'day'],
      rest: undefined,
    });
  });

  it('keeps the other conjuncts as the rest', () => {
    expect(splitKeyEqualities("t.id = s.id AND t.region = 'eu' AND t.a = s.b")).toEqual({
      keys: ['id'],
      rest: "t.region = 'eu' AND t.a = s.b",
    });
  });

  it('treats a condition with a top-level OR, BETWEEN or CASE as general', () => {
    expect(splitKeyEqualities('t.id = s.id OR t.id = s.alt')).toEqual({
      keys: [],
      rest: 't.id = s.id OR t.id = s.alt',
    });
    expect(splitKeyEqualities('t.id = s.id AND t.d BETWEEN 1 AND 5').keys).toEqual([]);
  });

  it('looks inside no parentheses', () => {
    expect(splitKeyEqualities('(t.id = s.id AND t.x = s.x)')).toEqual({
      keys: [],
      rest: '(t.id = s.id AND t.x = s.x)',
    });
  });
});
