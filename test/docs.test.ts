/**
 * Executable docs: every block of README.md and docs/*.md runs, page by page
 * in order, in a fresh project, and prints what the page shows (the rules
 * are in test/support/docs-runner.ts). `LARDER_DOCS_UPDATE=1` writes the
 * printed outputs back into the pages, to review as a diff.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_DIR, runPage } from './support/docs-runner.js';

// LARDER_DOCS_PAGES=docs/sql.md,README.md runs only those pages (while writing them).
const only = process.env.LARDER_DOCS_PAGES?.split(',');
const pages = [
  'README.md',
  ...readdirSync(join(REPO_DIR, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
].filter((page) => only === undefined || only.includes(page));

describe('the docs run as written', () => {
  for (const page of pages) {
    it(page, { timeout: process.env.LARDER_DOCS_UPDATE === '1' ? 3_600_000 : 600_000 }, async () => {
      const failures = await runPage(join(REPO_DIR, page), {
        update: process.env.LARDER_DOCS_UPDATE === '1',
      });
      const report = failures.map((f) => `${page}:${f.line}: ${f.what}\n${f.detail}`).join('\n\n');
      expect(report).toBe('');
    });
  }
});
