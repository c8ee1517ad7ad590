import { describe, expect, it } from 'vitest';
import { isLarderError } from '../errors.js';
import { applyReplacements, mergeReplacements } from './text-splice.js';

const scan = (path: string) => ({ path, version: 0, filesRead: 1, totalFiles: 1 });

describe('applyReplacements', () => {
  it('replaces spans in text order, whatever order they come in, keeping the text between', () => {
    const text = 'SELECT * FROM a JOIN b ON a.k = b.k';
    const result = applyReplacements(text, [
      { start: 21, end: 22, text: '(SELECT 2) AS b', scans: [scan('b')] },
      { start: 14, end: 15, text: '(SELECT 1) AS a', scans: [scan('a')] },
    ]);
    expect(result.sql).toBe('SELECT * FROM (SELECT 1) AS a JOIN (SELECT 2) AS b ON a.k = b.k');
    expect(result.scans.map((s) => s.path)).toEqual(['a', 'b']);
    expect(applyReplacements(text, [])).toEqual({ sql: text, scans: [] });
  });

  it('refuses overlapping replacements', () => {
    let error: unknown;
    try {
      applyReplacements('read_delta(t)', [
        { start: 0, end: 13, text: 'x', scans: [] },
        { start: 11, end: 12, text: 'y', scans: [] },
      ]);
    } catch (e) {
      error = e;
    }
    expect(isLarderError(error, 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('mergeReplacements', () => {
  it('makes one replacement from the first start to the last end', () => {
    const text = 't AT (VERSION => 1) x';
    const merged = mergeReplacements(text, [
      { start: 2, end: 19, text: '', scans: [] },
      { start: 0, end: 1, text: '(SELECT 1)', scans: [scan('t')] },
    ]);
    expect(merged).toEqual({ start: 0, end: 19, text: '(SELECT 1) ', scans: [scan('t')] });
  });
});
