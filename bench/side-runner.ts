/**
 * The child process of one benchmark side (`startSide` in bench-utils.ts).
 *
 *   node --import tsx bench/side-runner.ts <sides module> <side name> <JSON args>
 *
 * It imports the module, builds the named side (setup, not timed), answers
 * `ready`, then for each `run` message prepares (not timed), runs and times
 * one iteration, and on `finish` reports the process's peak resident set
 * size. One process per side gives each side its own peak: the figure covers
 * everything that process held (Node, DuckDB's buffers, the side's setup and
 * all its runs), and nothing of the other side or the parent.
 */
import { pathToFileURL } from 'node:url';
import type { Side, SideFactory, SideMessage, SideRequest } from './bench-utils.js';

const [modulePath, name, argsJson] = process.argv.slice(2);
const send = (message: SideMessage): void => {
  process.send?.(message);
};

let side: Side | undefined;
try {
  const module = (await import(pathToFileURL(modulePath!).href)) as {
    sides?: Record<string, SideFactory>;
  };
  const factory = module.sides?.[name!];
  if (!factory) throw new Error(`${modulePath} has no side "${name}"`);
  side = await factory(JSON.parse(argsJson ?? '{}'));
  send({ type: 'ready', rssBytes: process.memoryUsage().rss });
} catch (error) {
  send({ type: 'error', message: (error as Error).stack ?? String(error) });
  process.exit(1);
}

process.on('message', (request: SideRequest) => {
  void (async () => {
    try {
      if (request.type === 'run') {
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
      send({ type: 'error', message: (error as Error).stack ?? String(error) });
      process.exit(1);
    }
  })();
});
