/**
 * Spark and Databricks quote identifiers with backticks (`` `my col` ``,
 * doubled to escape one); DuckDB quotes them with double quotes. Before a
 * script is split and parsed, every backtick-quoted identifier outside
 * strings and comments becomes the double-quoted identifier DuckDB reads,
 * so the rest of Larder SQL (and DuckDB) only ever sees one kind.
 *
 * Invariant: text inside string literals, double-quoted identifiers and
 * comments is never changed.
 */

import { tokenize } from '../../engine/sql-tokenizer.js';
import { LarderError } from '../../errors.js';

/**
 * The script with backtick-quoted identifiers turned into double-quoted ones.
 *
 * @example
 * backticksToDoubleQuotes('SELECT `a b` FROM t'); // 'SELECT "a b" FROM t'
 */
export function backticksToDoubleQuotes(script: string): string {
  if (!script.includes('`')) return script;
  let out = '';
  let rest = script;
  for (;;) {
    const open = tokenize(rest).find((t) => t.kind === 'punct' && t.text === '`');
    if (!open) return out + rest;
    let name = '';
    let j = open.start + 1;
    let closed = false;
    while (j < rest.length) {
      if (rest[j] === '`') {
        if (rest[j + 1] === '`') {
          name += '`';
          j += 2;
          continue;
        }
        closed = true;
        break;
      }
      name += rest[j];
      j++;
    }
    if (!closed) {
      throw new LarderError('SQL_ERROR', 'syntax error: a backtick-quoted identifier is never closed', {
        statement: script.trim(),
      });
    }
    out += `${rest.slice(0, open.start)}"${name.replaceAll('"', '""')}"`;
    rest = rest.slice(j + 1);
  }
}
