/**
 * Table names as users write them: one, two or three dot-separated parts
 * (`t`, `schema.t`, `catalog.schema.t`), each bare or quoted with double
 * quotes (SQL) or backticks (Databricks), completed with the current catalog
 * and schema. Bare parts are case-insensitive and come back lower-case;
 * quoted parts keep their case here (the metastore compares names
 * case-insensitively anyway).
 */
import type { TableName } from '../catalog/metastore.js';
import { LarderError } from '../errors.js';

/** The catalog and schema that complete one- and two-part names. */
export interface NameDefaults {
  readonly catalog: string;
  readonly schema: string;
}

/**
 * The parts of a dotted name, unquoted. Throws `INVALID_ARGUMENT` naming the
 * text when it is not one.
 *
 * @example
 * splitNameParts('ml.`churn features`."T"'); // ['ml', 'churn features', 'T']
 */
export function splitNameParts(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new LarderError('INVALID_ARGUMENT', `"${text}" is not a table name: ${why}`, {
      hint: 'write catalog.schema.table, schema.table or table; quote parts with ` or "',
    });
  };
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  skipSpace();
  for (;;) {
    const ch = text[i];
    if (ch === '`' || ch === '"') {
      let part = '';
      let j = i + 1;
      for (;;) {
        if (j >= text.length) fail('unterminated quote');
        if (text[j] === ch) {
          if (text[j + 1] === ch) {
            part += ch;
            j += 2;
            continue;
          }
          break;
        }
        part += text[j];
        j++;
      }
      if (part === '') fail('empty quoted part');
      parts.push(part);
      i = j + 1;
    } else {
      const match = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(text.slice(i));
      if (!match) fail(ch === undefined ? 'a part is missing' : `unexpected "${ch}"`);
      parts.push(match![0].toLowerCase());
      i += match![0].length;
    }
    skipSpace();
    if (i >= text.length) break;
    if (text[i] !== '.') fail(`unexpected "${text[i]}"`);
    i++;
    skipSpace();
  }
  if (parts.length > 3) fail('more than three parts');
  return parts;
}

/**
 * A three-level name from 1–3 parts, completed by `defaults`.
 *
 * @example
 * completeName(['t'], { catalog: 'main', schema: 'default' }); // { catalog: 'main', schema: 'default', table: 't' }
 */
export function completeName(parts: readonly string[], defaults: NameDefaults): TableName {
  const [a, b, c] = parts;
  if (parts.length === 3) return { catalog: a!, schema: b!, table: c! };
  if (parts.length === 2) return { catalog: defaults.catalog, schema: a!, table: b! };
  if (parts.length === 1) return { catalog: defaults.catalog, schema: defaults.schema, table: a! };
  throw new LarderError('INVALID_ARGUMENT', `a table name has one to three parts, not ${parts.length}`);
}

/**
 * Parse a 1-, 2- or 3-part table name.
 *
 * @example
 * parseTableName('churn_features.customer_features', { catalog: 'ml', schema: 'default' });
 * // { catalog: 'ml', schema: 'churn_features', table: 'customer_features' }
 */
export function parseTableName(text: string, defaults: NameDefaults): TableName {
  return completeName(splitNameParts(text), defaults);
}

/** The catalog of one- and two-part names until `USE CATALOG` says otherwise (as in Databricks). */
export const DEFAULT_CATALOG = 'main';

/** The schema of one-part names until `USE SCHEMA` says otherwise (as in Databricks). */
export const DEFAULT_SCHEMA = 'default';
