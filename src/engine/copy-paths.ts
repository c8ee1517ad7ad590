/**
 * `COPY … TO 'file'` and `COPY table FROM 'file'` with a relative path: the
 * path is the project's, as every other relative path in Larder SQL is, not
 * the process's working folder (DuckDB's `file_search_path` only covers its
 * readers). Before the statement runs, a relative file path is made
 * absolute against the project folder and, for `TO`, the folder it goes in
 * is created, as a user writing `TO 'export/x.parquet'` expects.
 *
 * Paths with a scheme (`s3://…`, `https://…`) and absolute paths are left as
 * they are; so is any statement that is not a `COPY`.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { sqlString } from '../duckdb/duckdb.js';
import { LarderError } from '../errors.js';
import { SqlTokenBuilder } from './sql-token-builder.js';
import { isSignificant, type TokenizedSql } from './sql-tokenizer.js';

/**
 * `statement` with the file path of a `COPY … TO|FROM '…'` resolved against
 * `projectDir`; for `TO`, the target's folder exists when this resolves.
 * Works on the statement's tokens (it is not tokenized again). Throws
 * `IO_ERROR` naming the folder when it cannot be created.
 *
 * @example
 * const sql = "COPY t TO 'export/t.csv'";
 * (await resolveCopyPaths({ text: sql, tokens: tokenize(sql) }, '/srv/features')).text;
 * // "COPY t TO '/srv/features/export/t.csv'", with /srv/features/export created
 */
export async function resolveCopyPaths(statement: TokenizedSql, projectDir: string): Promise<TokenizedSql> {
  const tokens = statement.tokens.filter(isSignificant);
  if (tokens[0]?.kind !== 'word' || tokens[0].text.toLowerCase() !== 'copy') return statement;
  let depth = 0;
  for (let i = 1; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'punct' && token.text === '(') depth++;
    else if (token.kind === 'punct' && token.text === ')') depth--;
    if (depth !== 0 || token.kind !== 'word') continue;
    const direction = token.text.toLowerCase();
    const target = tokens[i + 1];
    if ((direction !== 'to' && direction !== 'from') || target?.kind !== 'string') continue;
    // Only a plain '…' literal; E'…' and $$…$$ are rare enough to leave to DuckDB as written.
    if (!/^'(?:[^']|'')*'$/.test(target.text)) return statement;
    const path = target.text.slice(1, -1).replaceAll("''", "'");
    if (path === '' || isAbsolute(path) || /^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return statement;
    const absolute = resolve(projectDir, path);
    if (direction === 'to') await makeFolder(dirname(absolute));
    return new SqlTokenBuilder()
      .pushAll(statement.tokens.map((t) => (t === target ? { ...t, text: sqlString(absolute) } : t)))
      .build();
  }
  return statement;
}

async function makeFolder(folder: string): Promise<void> {
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw new LarderError('IO_ERROR', `cannot create the folder ${folder} for COPY … TO`, {
      file: folder,
      cause: error,
      hint: 'check that the path names a folder you may write to',
    });
  }
}
