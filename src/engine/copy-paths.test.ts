import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveCopyPaths } from './copy-paths.js';
import { tokenize } from './sql-tokenizer.js';

let project: string;

beforeEach(async () => {
  project = await mkdtemp(join(tmpdir(), 'larder-copy-paths-'));
});

afterEach(async () => {
  await rm(project, { recursive: true, force: true });
});

/** The text of `sql` after resolveCopyPaths, checking its tokens spell that text. */
async function copyPaths(sql: string, projectDir: string): Promise<string> {
  const out = await resolveCopyPaths({ text: sql, tokens: tokenize(sql) }, projectDir);
  expect(out.tokens.map((t) => t.text).join('')).toBe(out.text);
  return out.text;
}

describe('resolveCopyPaths', () => {
  it('makes a relative COPY … TO path absolute against the project and creates its folder', async () => {
    const sql = await copyPaths("COPY (SELECT 1 FROM t) TO 'out/a/b.parquet' (FORMAT parquet)", project);
    expect(sql).toBe(`COPY (SELECT 1 FROM t) TO '${project}/out/a/b.parquet' (FORMAT parquet)`);
    expect((await stat(join(project, 'out', 'a'))).isDirectory()).toBe(true);
  });

  it('resolves COPY … FROM without creating anything', async () => {
    const sql = await copyPaths("copy t from 'in/x.csv'", project);
    expect(sql).toBe(`copy t from '${project}/in/x.csv'`);
    await expect(stat(join(project, 'in'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('ignores the FROM and TO inside the query of the COPY', async () => {
    const sql = await copyPaths("COPY (SELECT * FROM read_csv('x.csv')) TO 'y.csv'", project);
    expect(sql).toBe(`COPY (SELECT * FROM read_csv('x.csv')) TO '${project}/y.csv'`);
  });

  it('keeps quotes in the path quoted', async () => {
    const sql = await copyPaths("COPY t TO 'it''s.csv'", project);
    expect(sql).toBe(`COPY t TO '${project}/it''s.csv'`);
  });

  it('leaves absolute paths, URLs and other statements as written', async () => {
    for (const sql of [
      "COPY t TO '/var/tmp/x.csv'",
      "COPY t TO 's3://bucket/x.parquet'",
      "SELECT 'export/x' AS to_path",
      'COPY FROM DATABASE a TO b',
    ]) {
      expect(await copyPaths(sql, project)).toBe(sql);
    }
  });
});
