/**
 * The `larder` command as users run it, for the CLI tests: a real
 * `node bin/larder.js` process (from source, `LARDER_FROM_SOURCE=1`), its
 * exit code and everything it printed. The caller's `LARDER_CATALOG_URL` is
 * dropped, so a test uses the project's own catalog unless it sets one.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The launcher users run. */
export const LARDER_LAUNCHER = fileURLToPath(new URL('../../bin/larder.js', import.meta.url));

export interface LarderRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunLarderOptions {
  /** The working folder of the process. */
  readonly cwd: string;
  /** Standard input (default: empty, so nothing waits for a terminal). */
  readonly input?: string;
  /** Variables added to (or, when `undefined`, removed from) the environment. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Run `larder …args` and resolve when it exits.
 *
 * @example
 * const run = await runLarder(['tables', '--json', '-C', projectDir], { cwd: projectDir });
 * expect(run.code).toBe(0);
 */
export function runLarder(args: readonly string[], options: RunLarderOptions): Promise<LarderRun> {
  return new Promise((done, fail) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LARDER_FROM_SOURCE: '1', LARDER_DEBUG: '' };
    delete env.LARDER_CATALOG_URL;
    for (const [key, value] of Object.entries(options.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    const child = spawn(process.execPath, [LARDER_LAUNCHER, ...args], {
      cwd: options.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
