/**
 * Per-file statistics (`add.stats`): the JSON string Spark writes, parsed once
 * and cached. Values are keyed by physical column name, nested like the
 * schema; strings may be prefix-truncated and timestamps truncated to
 * milliseconds, so bounds are loose unless `tightBounds` says otherwise.
 */
import type { Add } from './actions.js';

export interface FileStats {
  readonly numRecords?: number;
  readonly minValues?: Readonly<Record<string, unknown>>;
  readonly maxValues?: Readonly<Record<string, unknown>>;
  readonly nullCount?: Readonly<Record<string, unknown>>;
  readonly tightBounds?: boolean;
}

const cache = new WeakMap<Add, FileStats | null>();

/** The parsed stats of a file, or `undefined` when it has none (or they are unreadable). */
export function fileStats(add: Add): FileStats | undefined {
  let stats = cache.get(add);
  if (stats === undefined) {
    stats = null;
    if (typeof add.stats === 'string' && add.stats.length > 0) {
      try {
        stats = JSON.parse(add.stats) as FileStats;
      } catch {
        stats = null;
      }
    }
    cache.set(add, stats);
  }
  return stats ?? undefined;
}
