/**
 * The child process of one benchmark side (`startSide` in bench-utils.ts).
 *
 *   node --import tsx bench/side-runner.ts <sides module> <side name>
 *
 * It imports the module, waits for the side's arguments (a `setup` message:
 * file lists can exceed what one command-line argument may hold), builds
 * the named side (setup, not timed), answers `ready`, then for each `run`
 * message prepares (not timed), runs and times one iteration, and on `finish` reports the process's peak resident set
 * size. One process per side gives each side its own peak: the figure covers
 * everything that process held (Node, DuckDB's buffers, the side's setup and
 * all its runs), and nothing of the other side or the parent.
 */
import { pathToFileURL } from 'node:url';
import type { Side, SideFactory, SideMessage, SideRequest } from './bench-utils.js';

const [modulePath, name] = process.argv.slice(2);
const send = (message: SideMessage): void => {
  process.send?.(message);
};
const fail = (error: unknown): never => {
  send({ type: 'error', message: (error as Error).stack ?? String(error) });
  process.exit(1);
};

let side: Side | undefined;
process.on('message', (request: SideRequest) => {
  void (async () => {
    try {
      if (request.type === 'setup') {
        const module = (await import(pathToFileURL(modulePath!).href)) as {
          sides?: Record<string, SideFactory>;
        };
        const factory = module.sides?.[name!];
        if (!factory) throw new Error(`${modulePath} has no side "${name}"`);
        side = await factory(request.args);
        send({ type: 'ready', rssBytes: process.memoryUsage().rss });
      } else if (request.type === 'run') {
        await side!.prepare?.(request.run);
        const start = performance.now();
        const detail = await side!.run(request.run);
        send({ type: 'ran', ms: performance.now() - start, detail });
      } else {
        await side!.close?.();
        // ru_maxrss: kilobytes on Linux.
        send({ type: 'finished', peakRssBytes: process.resourceUsage().maxRSS * 1024 });
        process.disconnect();
      }
    } catch (error) {
      fail(error);
    }
  })();
});
// Only now can a message be received: the parent waits for this before sending the setup.
send({ type: 'listening' });
