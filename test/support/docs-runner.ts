/**
 * Executable docs: runs the code blocks of a Markdown page, in order, in a
 * fresh project folder, and reports every block whose command fails or whose
 * printed output differs from the output the page shows.
 *
 * The page's project is a new folder under the system's temporary folder
 * holding `node_modules/larderjs` (a link to this repository), links to its
 * dependencies (as npm hoists them) and `node_modules/.bin/larder`, so that `import … from 'larderjs'`,
 * `'larderjs/config'` and `npx larder` work there as after
 * `npm install larderjs`, from the TypeScript sources (no build needed).
 *
 * Blocks, by their info string (the words after the opening fence):
 * - ```` ```console ```` (or `sh`, `bash`, `shell`, `text`) whose first line
 *   starts with `$ ` is a terminal session: each `$ command` runs in bash in
 *   the page's current folder, and the lines after it, up to the next `$ `,
 *   are what it must print (standard output and error together). A command
 *   may span lines while a quote is open or a line ends with `\`. It must
 *   exit with 0, unless its expected output has a line starting with
 *   `error [` (a Larder failure): then it must exit with another code.
 *   `$ cd <dir>` changes the page's current folder for the blocks after it.
 *   `npx larder …` and `npx larderjs …` run this repository's `bin/larder.js`;
 *   `npx tsx …` runs this repository's tsx.
 * - ```` ```sh ```` (or `bash`, `shell`) with no `$ ` line is a script, run in
 *   bash; it must exit with 0 and its output is not compared.
 * - ```` ```text ```` with no `$ ` line is not code (a syntax summary, a
 *   listing) and is not run.
 * - ```` ```ts ```` is a program: written to `.docs/` in the project and run
 *   with tsx (`--conditions=source`, so `larderjs` resolves to `src/`); it
 *   must exit with 0. Doc programs do not use top-level await (a CommonJS
 *   project could not run them): they wrap their work in an async function.
 * - ```` ```sql ```` is a Larder SQL script, run with `larder sql -`; it must
 *   succeed.
 * - `file=<path>` after the language (```` ```ts file=larder.config.ts ````)
 *   makes the block a file to create: its text is written to `<path>`,
 *   relative to the page's current folder, and nothing runs.
 * - `mask="<regex>"` on a session block: what the regular expression matches
 *   (in the page and in the output) compares as `<masked>`, for a value the
 *   rules below do not cover (a column of seconds).
 * - `norun="<reason>"` after the language skips the block; the reason is
 *   required. Use it rarely (a command for a clone of this repository, a
 *   fragment), never to hide a failure.
 *
 * Comparing output: both sides are normalised, then must be equal line by
 * line. Normalising replaces
 * - the project folder (the actual one, and in the page any folder directly
 *   under `/tmp`) by `<project>`, and this repository's folder by `<repo>`;
 * - UUIDs (and their first 8 digits followed by `-…`) by `<id>`;
 * - dates and date-times from the year 2025 on (commit times, run starts,
 *   today; the data of the examples use earlier dates) and 13-digit epoch
 *   milliseconds by `<time>`;
 * - durations (`0.13 s`, `74 ms`, and the values of fields named `…TimeMs`
 *   or `…durationSeconds`, as operation metrics print them) by `<duration>`,
 *   and rates (`74,328 entities/s`) by `<rate>`;
 * - the value of `LARDER_DOCS_ID` by `$LARDER_DOCS_ID`: the runner sets this
 *   variable to a name unique to the run (`d` and 10 lower-case letters or
 *   digits), for what a page makes outside its project folder (a PostgreSQL
 *   schema) and must not share with a run of the same page at the same time;
 * - runs of spaces by one space and runs of `─` by one `─` (so that a table
 *   whose column widths follow a normalised value still compares); trailing
 *   spaces and trailing empty lines are dropped.
 * A line that is exactly `…` in the page stands for any number of printed
 * lines (an abridged output); nothing else is a wildcard. The progress lines
 * a long command writes to standard error when it is not on a terminal
 * (`name [phase]: … | 2s elapsed | …` and the closing `name: … done in
 * 1.2 s`; a terminal shows them as a bar) are dropped before comparing.
 *
 * With `LARDER_DOCS_UPDATE=1` the runner writes the printed output of every
 * command that differs back into the page (an authoring aid: review the diff).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: what `larderjs` resolves to in a page's project. */
export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

const COMMAND_TIMEOUT_MS = 180_000;

/** One fenced block of a page. */
export interface DocBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly attrs: Readonly<Record<string, string>>;
  /** The block's lines, without the fences and the fence's indentation. */
  readonly body: readonly string[];
  /** Indentation of the fence (blocks inside list items). */
  readonly indent: string;
  /** 0-based index of the first body line in the page. */
  readonly bodyStart: number;
}

/** A block or command that did not do what the page says. */
export interface DocFailure {
  readonly line: number;
  readonly what: string;
  readonly detail: string;
}

/** A command of a session block and the output the page shows for it. */
interface SessionCommand {
  readonly command: string;
  readonly line: number;
  /** 0-based page lines of the expected output: [start, end). */
  readonly outputStart: number;
  readonly outputEnd: number;
  readonly expected: readonly string[];
}

const FENCE = /^(\s*)(```+)(.*)$/;

/** Parse `lang key=value key="quoted value"`. */
function parseInfo(info: string): { lang: string; attrs: Record<string, string> } {
  const words = [...info.trim().matchAll(/(\w[\w-]*)=(?:"([^"]*)"|(\S+))|(\S+)/g)];
  let lang = '';
  const attrs: Record<string, string> = {};
  for (const [index, word] of words.entries()) {
    if (word[1] !== undefined) attrs[word[1]] = word[2] ?? word[3] ?? '';
    else if (index === 0) lang = word[4] ?? '';
    else attrs[word[4] ?? ''] = '';
  }
  return { lang, attrs };
}

/** The fenced blocks of a Markdown page, in order. */
export function parseBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1] ?? '';
    const fence = open[2] ?? '```';
    const { lang, attrs } = parseInfo(open[3] ?? '');
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j] ?? '';
      if (line.trim() === fence) break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    if (j >= lines.length) throw new Error(`line ${i + 1}: the block opened here is never closed`);
    blocks.push({ line: i + 1, lang, attrs, body, indent, bodyStart: i + 1 });
    i = j;
  }
  return blocks;
}

/**
 * Whether a shell command is complete: no quote left open and no line
 * continuation at its end. Comments (`#` at the start of a word) are skipped,
 * so an apostrophe in a comment does not open a quote.
 */
export function isCompleteCommand(text: string): boolean {
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = '';
    } else if (quote === '"') {
      if (c === '\\') i++;
      else if (c === '"') quote = '';
    } else if (c === '\\') {
      if (i === text.length - 1) return false;
      i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      while (i < text.length && text[i] !== '\n') i++;
    }
  }
  return quote === '';
}

/** The commands of a session block with the output shown after each. */
function parseSession(block: DocBlock): SessionCommand[] {
  const commands: SessionCommand[] = [];
  const body = block.body;
  let i = 0;
  while (i < body.length) {
    const first = body[i] ?? '';
    if (!first.startsWith('$ ')) throw new Error(`line ${block.bodyStart + i + 1}: expected a "$ " command`);
    const line = block.bodyStart + i + 1;
    let command = first.slice(2);
    i++;
    while (!isCompleteCommand(command)) {
      if (i >= body.length) throw new Error(`line ${line}: the command never ends (an open quote?)`);
      command += `\n${body[i]}`;
      i++;
    }
    const outputStart = i;
    while (i < body.length && !(body[i] ?? '').startsWith('$ ')) i++;
    commands.push({
      command,
      line,
      outputStart: block.bodyStart + outputStart,
      outputEnd: block.bodyStart + i,
      expected: body.slice(outputStart, i),
    });
  }
  return commands;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `text` without the progress lines of a command that is not on a terminal. */
function dropProgress(text: string): string {
  return text
    .split('\n')
    .filter(
      (line) => !/ \| [^|]*elapsed( \| ETA .*)?$/.test(line) && !/^\S+: .* done in [\d.]+ s$/.test(line),
    )
    .join('\n');
}

/** The normalisation of the header comment, for one side of the comparison. */
export function normalizeOutput(
  text: string,
  options: { project?: readonly string[]; mask?: RegExp | undefined; docsId?: string | undefined } = {},
): string[] {
  let out = dropProgress(text);
  if (options.docsId) out = out.replace(new RegExp(escapeRegExp(options.docsId), 'g'), '$$LARDER_DOCS_ID');
  if (options.mask) out = out.replace(options.mask, '<masked>');
  for (const path of options.project ?? [])
    out = out.replace(new RegExp(escapeRegExp(path), 'g'), '<project>');
  out = out.replace(new RegExp(escapeRegExp(REPO_DIR), 'g'), '<repo>');
  out = out.replace(/\/tmp\/[^/\s"'`,)]+/g, '<project>');
  out = out
    .replace(/(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])/g, '<id>')
    .replace(/(?<![0-9a-f])[0-9a-f]{8}-…/g, '<id>')
    .replace(
      /\b20(?:2[5-9]|[3-9]\d)-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d(?::?\d\d)?)?)?/g,
      '<time>',
    )
    .replace(/\b1[7-9]\d{11}\b/g, '<time>')
    .replace(/\b(\w*(?:TimeMs|[dD]urationSeconds))("?:\s*)[\d.e-]+/g, '$1$2<duration>')
    .replace(/\b\d[\d,]*(?:\.\d+)? [a-z]+\/s\b/g, '<rate>')
    .replace(/\b\d+(?:\.\d+)? ?(?:ms|s)\b/g, '<duration>')
    .replace(/ +/g, ' ')
    .replace(/─+/g, '─');
  const lines = out.split('\n').map((line) => line.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Whether `actual` matches `expected`, where an expected line `…` stands for any lines. */
export function matchLines(expected: readonly string[], actual: readonly string[]): boolean {
  const memo = new Map<string, boolean>();
  const go = (e: number, a: number): boolean => {
    const key = `${e},${a}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (e === expected.length) result = a === actual.length;
    else if (expected[e] === '…') result = go(e + 1, a) || (a < actual.length && go(e, a + 1));
    else result = a < actual.length && expected[e] === actual[a] && go(e + 1, a + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Run bash with `script`, standard output and error together. */
function runBash(script: string, cwd: string, env: NodeJS.ProcessEnv, input = ''): Promise<Run> {
  return runProcess('bash', ['-c', `exec 2>&1\n${script}`], cwd, env, input);
}

function runProcess(
  file: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  input = '',
): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(file, [...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    // A command that cannot start (a folder that does not exist) is a failure of the page, not of the runner.
    child.on('error', (error) => {
      clearTimeout(timer);
      done({ code: null, output: `${output}${error.message}\n` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
    // A command that exits without reading its input closes the pipe (EPIPE): not a failure of the page.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** Make a fresh project folder where `larderjs` and `npx larder` resolve to this repository. */
function makeProject(page: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `larder-docs-${basename(page, '.md')}-`)));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(REPO_DIR, join(dir, 'node_modules', 'larderjs'), 'dir');
  symlinkSync(join(REPO_DIR, 'bin', 'larder.js'), join(dir, 'node_modules', '.bin', 'larder'));
  // npm hoists the package's dependencies next to it, so a project may import them (apache-arrow).
  const manifest = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    const link = join(dir, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(realpathSync(join(REPO_DIR, 'node_modules', name)), link, 'dir');
  }
  // `npx larder` without npx's start-up cost (and without any network), the rest to the real npx.
  const shims = join(dir, 'node_modules', '.docs-bin');
  mkdirSync(shims);
  const tsx = join(REPO_DIR, 'node_modules', '.bin', 'tsx');
  writeFileSync(
    join(shims, 'npx'),
    [
      '#!/usr/bin/env bash',
      'case "$1" in',
      `  larder|larderjs) shift; exec node ${JSON.stringify(join(REPO_DIR, 'bin', 'larder.js'))} "$@" ;;`,
      `  tsx) shift; exec ${JSON.stringify(tsx)} --conditions=source "$@" ;;`,
      'esac',
      `PATH=${JSON.stringify(process.env.PATH ?? '')} exec npx "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${shims}:${join(dir, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    LARDER_FROM_SOURCE: '1',
    LARDER_DEBUG: '',
    LARDER_DOCS_ID: `d${randomBytes(8).toString('hex').slice(0, 10)}`,
    NO_COLOR: '1',
    TZ: 'UTC',
  };
  delete env.LARDER_CATALOG_URL;
  delete env.FORCE_COLOR;
  delete env.NODE_OPTIONS;
  return { dir, env };
}

function expectsFailure(expected: readonly string[]): boolean {
  return expected.some((line) => line.trimStart().startsWith('error ['));
}

/** `lines` with the outputs of `rewrites` in place of the page's (`lines` is left as it is). */
function applyRewrites(
  lines: readonly string[],
  rewrites: readonly { start: number; end: number; lines: string[] }[],
): string[] {
  const out = [...lines];
  for (const rewrite of [...rewrites].sort((a, b) => b.start - a.start)) {
    out.splice(rewrite.start, rewrite.end - rewrite.start, ...rewrite.lines);
  }
  return out;
}

/** Run every block of the page at `pagePath` in a fresh project; resolve to the failures. */
export async function runPage(pagePath: string, options: { update?: boolean } = {}): Promise<DocFailure[]> {
  const markdown = readFileSync(pagePath, 'utf8');
  const pageLines = markdown.split('\n');
  const blocks = parseBlocks(markdown);
  const { dir, env } = makeProject(pagePath);
  const failures: DocFailure[] = [];
  const rewrites: { start: number; end: number; lines: string[] }[] = [];
  let cwd = dir;
  for (const block of blocks) {
    const fail = (what: string, detail: string, line = block.line) => failures.push({ line, what, detail });
    if ('norun' in block.attrs) {
      if (!block.attrs.norun) fail('block', 'norun needs a reason: norun="…"');
      continue;
    }
    const text = `${block.body.join('\n')}\n`;
    if (block.attrs.file !== undefined) {
      const target = resolve(cwd, block.attrs.file);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text);
      continue;
    }
    const isSession = (block.body[0] ?? '').startsWith('$ ');
    if (['console', 'text', 'sh', 'bash', 'shell'].includes(block.lang) && isSession) {
      for (const command of parseSession(block)) {
        const cd = /^cd\s+(.+)$/.exec(command.command);
        if (cd) {
          const moved = await runBash(`cd ${cd[1]} && pwd`, cwd, env);
          if (moved.code === 0) cwd = moved.output.trim();
          else fail(`$ ${command.command}`, moved.output, command.line);
          continue;
        }
        const run = await runBash(command.command, cwd, env);
        const shouldFail = expectsFailure(command.expected);
        const projectPaths = [dir];
        const mask = block.attrs.mask === undefined ? undefined : new RegExp(block.attrs.mask, 'gm');
        const actual = normalizeOutput(run.output, {
          project: projectPaths,
          mask,
          docsId: env.LARDER_DOCS_ID,
        });
        const expected = normalizeOutput(command.expected.join('\n'), { mask });
        const codeOk = shouldFail ? run.code !== 0 && run.code !== null : run.code === 0;
        const outputOk = matchLines(expected, actual);
        if (!codeOk || !outputOk) {
          const why = codeOk
            ? 'printed something else'
            : `exited with ${run.code} (expected ${shouldFail ? 'a failure' : '0'})`;
          fail(
            `$ ${command.command.split('\n')[0]} ${why}`,
            `--- page\n${command.expected.join('\n')}\n--- printed\n${run.output}`,
            command.line,
          );
          if (!outputOk && options.update) {
            const printed = dropProgress(run.output)
              .replaceAll(env.LARDER_DOCS_ID ?? '$LARDER_DOCS_ID', '$LARDER_DOCS_ID')
              .replace(/\n+$/, '')
              .split('\n');
            rewrites.push({
              start: command.outputStart,
              end: command.outputEnd,
              lines: run.output.trim() === '' ? [] : printed.map((l) => (l ? block.indent + l : l)),
            });
            // Written at once, so that what ran is kept even if the page is stopped later.
            writeFileSync(pagePath, applyRewrites(pageLines, rewrites).join('\n'));
          }
        }
      }
    } else if (['sh', 'bash', 'shell'].includes(block.lang)) {
      const run = await runBash(text, cwd, env);
      if (run.code !== 0) fail(`${block.lang} block exited with ${run.code}`, run.output);
    } else if (block.lang === 'text') {
      // Not code: a syntax summary or a listing.
    } else if (block.lang === 'ts' || block.lang === 'typescript') {
      const file = join(dir, '.docs', `line-${block.line}.ts`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      const tsx = join(REPO_DIR, 'node_modules', '.bin', 'tsx');
      const run = await runProcess(tsx, ['--conditions=source', file], cwd, env);
      if (run.code !== 0) fail(`ts block exited with ${run.code}`, run.output);
    } else if (block.lang === 'sql') {
      const run = await runProcess(
        process.execPath,
        [join(REPO_DIR, 'bin', 'larder.js'), 'sql', '-'],
        cwd,
        env,
        text,
      );
      if (run.code !== 0) fail(`sql block exited with ${run.code}`, run.output);
    } else {
      fail(
        `${block.lang || 'unlabelled'} block`,
        'unknown kind of block: give it a language the runner knows, file=… or norun="…"',
      );
    }
  }
  return failures;
}
