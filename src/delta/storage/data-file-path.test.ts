import { describe, expect, it } from 'vitest';
import { isLarderError } from '../../errors.js';
import { canonicalFilePath, dataFileLocalPath, encodeDataFilePath } from './data-file-path.js';

describe('dataFileLocalPath', () => {
  const root = '/tables/t';

  it('decodes relative URI-encoded paths under the table root', () => {
    expect(dataFileLocalPath(root, 'part-0.parquet')).toBe('/tables/t/part-0.parquet');
    expect(dataFileLocalPath(root, 'a%20b/x%25y.parquet')).toBe('/tables/t/a b/x%y.parquet');
    expect(dataFileLocalPath(root, 'letter=%252F%252520%2525f/p.parquet')).toBe(
      '/tables/t/letter=%2F%2520%25f/p.parquet',
    );
    expect(dataFileLocalPath(root, './q/../r.parquet')).toBe('/tables/t/r.parquet');
    expect(dataFileLocalPath('/tables/t/', 'p.parquet')).toBe('/tables/t/p.parquet');
  });

  it('takes file: URIs and absolute paths as they are', () => {
    expect(dataFileLocalPath(root, 'file:///data/c%20d.parquet')).toBe('/data/c d.parquet');
    expect(dataFileLocalPath(root, '/data/e%20f.parquet')).toBe('/data/e f.parquet');
  });

  it('refuses other URI schemes and invalid encodings', () => {
    const codeOf = (path: string) => {
      try {
        dataFileLocalPath(root, path);
      } catch (error) {
        if (isLarderError(error)) return [error.code, error.context.file];
      }
      return undefined;
    };
    expect(codeOf('s3://bucket/x.parquet')).toEqual(['UNSUPPORTED_FEATURE', 's3://bucket/x.parquet']);
    expect(codeOf('abfss://c@a.dfs.core.windows.net/x.parquet')?.[0]).toBe('UNSUPPORTED_FEATURE');
    expect(codeOf('bad%zz.parquet')).toEqual(['CORRUPT_LOG', 'bad%zz.parquet']);
  });

  it('inverts encodeDataFilePath', () => {
    for (const rel of ['p=50%25/part-1.parquet', 'a b/c=d/x#y?.parquet', "q'u/ü.parquet", 'plain.parquet']) {
      expect(dataFileLocalPath(root, encodeDataFilePath(rel))).toBe(`/tables/t/${rel}`);
    }
    expect(encodeDataFilePath('p=50%25/part-1.parquet')).toBe('p=50%2525/part-1.parquet');
  });
});

describe('canonicalFilePath', () => {
  const root = '/tables/t';

  it('gives every form of a path under the root the decoded relative path', () => {
    const forms = [
      'p=1/a%20b.parquet',
      'p=1/a b.parquet',
      './p=1/a%20b.parquet',
      '/tables/t/p=1/a%20b.parquet',
      'file:/tables/t/p=1/a%20b.parquet',
      'file:///tables/t/p=1/a%20b.parquet',
      'file:///tables/t/q/../p=1/a%20b.parquet',
    ];
    for (const form of forms) expect(canonicalFilePath(root, form)).toBe('p=1/a b.parquet');
    expect(canonicalFilePath('/tables/t/', 'file:/tables/t/x.parquet')).toBe('x.parquet');
  });

  it('keeps files outside the root absolute, and distinct paths distinct', () => {
    expect(canonicalFilePath(root, 'file:///tables/other/x.parquet')).toBe('/tables/other/x.parquet');
    expect(canonicalFilePath(root, '/tables/t2/x.parquet')).toBe('/tables/t2/x.parquet');
    expect(canonicalFilePath(root, '..x.parquet')).toBe('..x.parquet');
    expect(canonicalFilePath(root, 'a%2520b.parquet')).toBe('a%20b.parquet');
    expect(canonicalFilePath(root, 'a%2520b.parquet')).not.toBe(canonicalFilePath(root, 'a%20b.parquet'));
  });

  it('leaves paths it cannot resolve as written', () => {
    expect(canonicalFilePath(root, 's3://bucket/x.parquet')).toBe('s3://bucket/x.parquet');
    expect(canonicalFilePath(root, 'bad%zz.parquet')).toBe('bad%zz.parquet');
  });
});
