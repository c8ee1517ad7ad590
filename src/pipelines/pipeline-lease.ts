/**
 * The lease a pipeline run holds in the catalog while it runs, so two runs of
 * one pipeline (two `larder run`, a schedule and a person) never do the same
 * work at once: the second waits for the first (then finds nothing new) or,
 * told not to wait, fails with `PIPELINE_BUSY` naming the holder.
 *
 * Invariants: the lease is renewed by a heartbeat every third of its TTL while
 * the run holds it, so a live run keeps it however long it takes, and a killed
 * one loses it one TTL after its last renewal; a holder that finds its lease
 * gone (the catalog unreachable for a whole TTL and another run took over)
 * is told through `lost`, and the run stops before it commits.
 */
import { hostname } from 'node:os';
import type { Lease, Metastore } from '../catalog/metastore.js';
import { LarderError } from '../errors.js';

/** How long a lease lasts without renewal unless told otherwise (ms). */
export const DEFAULT_PIPELINE_LEASE_TTL_MS = 30_000;

/** How a run takes its pipeline's lease. */
export interface PipelineLeaseOptions {
  /** How long the lease lasts without renewal (ms); renewed every third of it. Default 30 s. */
  readonly ttlMs?: number;
  /** Wait for a run holding the lease to end (default), or fail at once with `PIPELINE_BUSY`. */
  readonly wait?: boolean;
  /** Called when the run starts waiting, and again whenever the holder changes. */
  readonly onWait?: (holder: Lease) => void;
}

interface AcquireOptions extends PipelineLeaseOptions {
  readonly metastore: Metastore;
  readonly pipeline: string;
  /** The output table's full name: the lease is per pipeline and table. */
  readonly featureTable: string;
  readonly runId: string;
  /** Stops the wait (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/**
 * A held lease.
 *
 * @example
 * const lease = await PipelineLease.acquire({ metastore, pipeline: 'customer_features',
 *   featureTable: 'ml.churn_features.customer_features', runId, onWait: (l) => console.log(`waiting for ${l.owner}`) });
 * try { await work(lease.lost); } finally { await lease.release(); }
 */
export class PipelineLease {
  readonly lease: Lease;
  /** Aborted when the lease is found held by someone else at a renewal. */
  readonly lost: AbortSignal;
  readonly #metastore: Metastore;
  readonly #timer: NodeJS.Timeout;
  readonly #lost: AbortController;
  #released = false;

  private constructor(metastore: Metastore, lease: Lease, ttlMs: number) {
    this.#metastore = metastore;
    this.lease = lease;
    this.#lost = new AbortController();
    this.lost = this.#lost.signal;
    this.#timer = setInterval(() => void this.#renew(ttlMs), Math.max(1, Math.floor(ttlMs / 3)));
    // A heartbeat must not keep a finished process alive.
    this.#timer.unref();
  }

  /** Take the lease of `pipeline`, waiting for its holder unless `wait` is false. */
  static async acquire(options: AcquireOptions): Promise<PipelineLease> {
    const ttlMs = options.ttlMs ?? DEFAULT_PIPELINE_LEASE_TTL_MS;
    const name = pipelineLeaseName(options.pipeline, options.featureTable);
    const owner = `${hostname()} pid ${process.pid}, run ${options.runId}`;
    let announced: string | undefined;
    for (;;) {
      options.signal?.throwIfAborted();
      const attempt = await options.metastore.acquireLease(name, options.runId, owner, ttlMs);
      if (attempt.acquired && attempt.lease)
        return new PipelineLease(options.metastore, attempt.lease, ttlMs);
      const holder = attempt.lease;
      if (holder) {
        if (options.wait === false) {
          throw new LarderError(
            'PIPELINE_BUSY',
            `pipeline "${options.pipeline}" is being run by ${holder.owner} (since ${holder.acquiredAt.toISOString()})`,
            {
              pipeline: options.pipeline,
              table: options.featureTable,
              holder: holder.owner,
              hint: `wait for it (run without --no-wait), or if that process is gone its lease lapses at ${holder.expiresAt.toISOString()}`,
            },
          );
        }
        if (announced !== holder.holder) {
          announced = holder.holder;
          options.onWait?.(holder);
        }
      }
      await sleep(Math.min(1000, Math.max(10, Math.floor(ttlMs / 4))), options.signal);
    }
  }

  /** Stop the heartbeat and give the lease up (safe to call twice). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    await this.#metastore.releaseLease(this.lease.name, this.lease.holder).catch(() => undefined);
  }

  async #renew(ttlMs: number): Promise<void> {
    if (this.#released) return;
    try {
      if (!(await this.#metastore.renewLease(this.lease.name, this.lease.holder, ttlMs))) {
        this.#lost.abort(
          new LarderError('PIPELINE_BUSY', `the run lost the lease ${this.lease.name} to another run`, {
            hint: 'the catalog was unreachable for longer than the lease TTL; run again',
          }),
        );
      }
    } catch {
      // The catalog was briefly unreachable: the next beat tries again, within the TTL.
    }
  }
}

/**
 * The name of a pipeline's lease.
 *
 * @example
 * pipelineLeaseName('customer_features', 'ml.churn_features.customer_features');
 * // 'pipeline:customer_features@ml.churn_features.customer_features'
 */
export function pipelineLeaseName(pipeline: string, featureTable: string): string {
  return `pipeline:${pipeline}@${featureTable}`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
