import { describe, expect, it } from 'vitest';
import { isLarderError } from '../errors.js';
import { byteToCharIndex } from './sql-ast.js';

describe('byteToCharIndex', () => {
  it('maps the UTF-8 offset of every character to its UTF-16 index', () => {
    for (const text of ['select 1', "select 'é' AS \"ü\", '€', '😀' FROM t", '😀😀x']) {
      const toChar = byteToCharIndex(text);
      let bytes = 0;
      let index = 0;
      for (const ch of text) {
        expect(toChar(bytes), `${text} @${bytes}`).toBe(index);
        bytes += new TextEncoder().encode(ch).length;
        index += ch.length;
      }
      expect(toChar(bytes)).toBe(text.length);
    }
  });

  it('refuses an offset inside a character or past the end', () => {
    const toChar = byteToCharIndex('aé');
    for (const offset of [2, 4, -1, 1.5]) {
      let error: unknown;
      try {
        toChar(offset);
      } catch (e) {
        error = e;
      }
      expect(isLarderError(error, 'SQL_ERROR'), String(offset)).toBe(true);
    }
    expect(() => byteToCharIndex('ab')(3)).toThrow(/parser location 3/);
  });
});
