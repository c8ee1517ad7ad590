#!/usr/bin/env node
// Launcher of the `larder` CLI: the compiled dist/cli/index.js when the package is built,
// otherwise the TypeScript source through tsx (a development checkout needs no build step).
// LARDER_FROM_SOURCE=1 forces the source, so tests never run a stale build.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/index.js', import.meta.url);
let cli;
if (existsSync(compiled) && process.env.LARDER_FROM_SOURCE !== '1') {
  cli = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../src/cli/index.ts', import.meta.url).href);
}
await cli.main();
