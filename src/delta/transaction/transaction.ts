/**
 * The one commit path of Larder: a `Transaction` collects the actions of an
 * operation and commits them as the next version of the table with
 * optimistic concurrency (PROTOCOL.md "Requirements for Writers").
 *
 * Invariants:
 * - A commit is one `%020d.json` created with `LogStore.putIfAbsent`: it is
 *   visible whole or not at all, and never replaces another writer's commit.
 * - The first line is our `commitInfo`; at most one `protocol` and one
 *   `metaData`; at most one add per (path, deletion vector).
 * - When another writer got the version first, we read its commit and run
 *   the conflict checker; without a conflict we retry at the next version
 *   (at most 15 attempts). Storage never retries; this is the only place
 *   that does.
 * - The table must be writable by Larder (`assertWritable`), and
 *   `delta.appendOnly` tables accept no data-changing removes.
 * - After a commit at a multiple of `delta.checkpointInterval` (default 10)
 *   a checkpoint is written; failing to write it never fails the commit.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LarderError } from '../../errors.js';
import {
  type Action,
  type CommitActions,
  type CommitInfo,
  fileKey,
  type Metadata,
  type Protocol,
  serializeActions,
} from '../log/actions.js';
import { advanceSnapshot } from '../log/advance-snapshot.js';
import { type CheckpointInfo, writeCheckpoint } from '../log/checkpoint-writer.js';
import { loadSnapshot, parseCommit, readCommit } from '../log/replay.js';
import type { Snapshot } from '../log/snapshot.js';
import { commitFileName, LogFileExistsError, type LogStore } from '../storage/log-store.js';
import {
  checkConflicts,
  type IsolationLevel,
  type ReadPredicate,
  type TransactionFootprint,
} from './conflict-checker.js';
import { assertWritable } from './writer-protocol.js';

/** How many times a commit is attempted before giving up with `CONCURRENT_MODIFICATION`. */
export const MAX_COMMIT_ATTEMPTS = 15;

export interface TransactionOptions {
  /** The operation, as Spark names it: `WRITE`, `CREATE TABLE`, `RESTORE`, `MERGE`, `DELETE`, … */
  readonly operation: string;
  readonly operationParameters?: Readonly<Record<string, unknown>>;
  /** Metrics of the operation; numbers are stored as strings, as Spark does. */
  readonly operationMetrics?: Readonly<Record<string, unknown>>;
  /** What the operation read (default: `'none'` for blind appends, `'all'` otherwise). */
  readonly readPredicate?: ReadPredicate;
  /** Paths (as in the log) of the files the operation read. */
  readonly readFiles?: readonly string[];
  /** True when the operation only adds files and read nothing of the table. */
  readonly isBlindAppend?: boolean;
  readonly isolationLevel?: IsolationLevel;
  readonly userMetadata?: string;
  readonly maxAttempts?: number;
  /** Write a checkpoint when the version calls for one (default true). */
  readonly checkpoint?: boolean;
}

export interface CommitResult {
  /** The version this transaction committed. */
  readonly version: number;
  /** The table right after this commit. */
  readonly snapshot: Snapshot;
  /** Attempts it took (1 when no other writer interfered). */
  readonly attempts: number;
  /** The commits of other writers this one landed after. */
  readonly winners: readonly CommitActions[];
  readonly commitInfo: CommitInfo;
  /** The checkpoint written after the commit, if one was due and succeeded. */
  readonly checkpoint?: CheckpointInfo;
  /** Why a due checkpoint was not written (the commit itself succeeded). */
  readonly checkpointError?: unknown;
}

/**
 * A commit builder.
 *
 * @example
 * const tx = new Transaction(store, snapshot, { operation: 'WRITE', isBlindAppend: true,
 *   operationParameters: { mode: 'Append', partitionBy: '[]' } });
 * tx.addActions(...adds.map((add) => ({ add })));
 * const { version, snapshot: next } = await tx.commit();
 */
export class Transaction {
  readonly #store: LogStore;
  readonly #read: Snapshot | undefined;
  readonly #options: TransactionOptions;
  readonly #actions: Action[] = [];
  #metrics: Readonly<Record<string, unknown>> | undefined;
  #committed = false;

  /**
   * @param readSnapshot the snapshot the operation read, or `undefined` when
   *   the transaction creates the table (version 0).
   */
  constructor(store: LogStore, readSnapshot: Snapshot | undefined, options: TransactionOptions) {
    this.#store = store;
    this.#read = readSnapshot;
    this.#options = options;
    this.#metrics = options.operationMetrics;
  }

  /** The version this transaction read (-1 when creating the table). */
  get readVersion(): number {
    return this.#read?.version ?? -1;
  }

  /** Add actions to the commit (not `commitInfo`: the transaction writes it). */
  addActions(...actions: readonly Action[]): this {
    if (this.#committed) throw new LarderError('INVALID_ARGUMENT', 'this transaction was already committed');
    for (const action of actions) {
      if ('commitInfo' in action) {
        throw new LarderError('INVALID_ARGUMENT', 'commitInfo is written by the transaction itself');
      }
      this.#actions.push(action);
    }
    return this;
  }

  /** Set the operation metrics written into `commitInfo`. */
  setOperationMetrics(metrics: Readonly<Record<string, unknown>>): this {
    this.#metrics = metrics;
    return this;
  }

  /** Commit as the next version; retries past non-conflicting concurrent commits. */
  async commit(): Promise<CommitResult> {
    if (this.#committed) throw new LarderError('INVALID_ARGUMENT', 'this transaction was already committed');
    this.#committed = true;
    const table = this.#store.root;
    const { protocol, metadata } = this.#validate(table);
    assertWritable(protocol, metadata, table);
    if (this.#read && metadata.configuration['delta.appendOnly'] === 'true') {
      const remove = this.#actions.find((a) => 'remove' in a && a.remove.dataChange);
      if (remove && 'remove' in remove) {
        throw new LarderError(
          'CONSTRAINT_VIOLATION',
          `table ${table} is append-only (delta.appendOnly=true): ${this.#options.operation} would remove data (${remove.remove.path})`,
          {
            table,
            feature: 'appendOnly',
            hint: 'only appends are allowed; unset delta.appendOnly to change data',
          },
        );
      }
    }

    const footprint = this.#footprint(table);
    const maxAttempts = this.#options.maxAttempts ?? MAX_COMMIT_ATTEMPTS;
    const winners: CommitActions[] = [];
    let version = this.readVersion + 1;
    for (let attempt = 1; ; attempt++) {
      const commitInfo = this.#commitInfo();
      const body = serializeActions([{ commitInfo }, ...this.#ordered()]);
      try {
        await this.#store.putIfAbsent(commitFileName(version), body);
      } catch (error) {
        if (!(error instanceof LogFileExistsError)) throw error;
        if (!this.#read) {
          throw new LarderError('TABLE_ALREADY_EXISTS', `a Delta table already exists at ${table}`, {
            table,
            hint: 'open it instead, or choose another path',
          });
        }
        if (attempt >= maxAttempts) {
          throw new LarderError(
            'CONCURRENT_MODIFICATION',
            `table ${table}: gave up committing after ${attempt} attempts; other writers committed versions ${this.readVersion + 1} to ${version}`,
            { table, version, hint: 'retry later or reduce the number of concurrent writers' },
          );
        }
        const winner = await readCommit(this.#store, version);
        checkConflicts(footprint, winner);
        winners.push(winner);
        version++;
        continue;
      }
      return this.#afterCommit(version, body, attempt, winners, commitInfo);
    }
  }

  async #afterCommit(
    version: number,
    body: string,
    attempts: number,
    winners: readonly CommitActions[],
    commitInfo: CommitInfo,
  ): Promise<CommitResult> {
    const name = commitFileName(version);
    let snapshot: Snapshot;
    if (this.#read) {
      const ours = parseCommit(version, body, name);
      const timestamp = (await this.#store.modificationTime(name)) ?? commitInfo.timestamp ?? Date.now();
      snapshot = advanceSnapshot(this.#read, [...winners, ours], timestamp);
    } else {
      snapshot = await loadSnapshot(this.#store, { version });
    }
    let checkpoint: CheckpointInfo | undefined;
    let checkpointError: unknown;
    const interval = Number(snapshot.properties['delta.checkpointInterval'] ?? 10);
    if (
      this.#options.checkpoint !== false &&
      version > 0 &&
      Number.isInteger(interval) &&
      interval > 0 &&
      version % interval === 0
    ) {
      try {
        checkpoint = await writeCheckpoint(this.#store, snapshot);
      } catch (error) {
        checkpointError = error;
      }
    }
    return { version, snapshot, attempts, winners, commitInfo, checkpoint, checkpointError };
  }

  /** The protocol and metadata the table has after this commit; checks the shape of the commit. */
  #validate(table: string): { protocol: Protocol; metadata: Metadata } {
    let protocol: Protocol | undefined;
    let metadata: Metadata | undefined;
    const keys = new Set<string>();
    for (const action of this.#actions) {
      if ('protocol' in action) {
        if (protocol)
          throw new LarderError('INVALID_ARGUMENT', `a commit holds at most one protocol action (${table})`);
        protocol = action.protocol;
      } else if ('metaData' in action) {
        if (metadata)
          throw new LarderError('INVALID_ARGUMENT', `a commit holds at most one metaData action (${table})`);
        metadata = action.metaData;
      } else if ('add' in action) {
        const key = fileKey(action.add);
        if (keys.has(key)) {
          throw new LarderError(
            'INVALID_ARGUMENT',
            `file ${action.add.path} is added twice in one commit (${table})`,
            {
              table,
              file: action.add.path,
            },
          );
        }
        keys.add(key);
      }
    }
    protocol ??= this.#read?.protocol;
    metadata ??= this.#read?.metadata;
    if (!protocol || !metadata) {
      throw new LarderError(
        'INVALID_ARGUMENT',
        `creating table ${table} needs a protocol and a metaData action`,
        {
          table,
        },
      );
    }
    return { protocol, metadata };
  }

  #footprint(table: string): TransactionFootprint {
    const isBlindAppend = this.#options.isBlindAppend ?? false;
    const removedFiles = new Set<string>();
    const appIds = new Set<string>();
    const domains = new Set<string>();
    for (const action of this.#actions) {
      if ('remove' in action) removedFiles.add(action.remove.path);
      else if ('txn' in action) appIds.add(action.txn.appId);
      else if ('domainMetadata' in action) domains.add(action.domainMetadata.domain);
    }
    return {
      table,
      readVersion: this.readVersion,
      readPredicate: this.#options.readPredicate ?? (isBlindAppend ? 'none' : 'all'),
      readFiles: new Set(this.#options.readFiles ?? []),
      removedFiles,
      appIds,
      domains,
      isBlindAppend,
      isolationLevel: this.#options.isolationLevel ?? 'Serializable',
      schema: this.#read?.schema,
      partitionColumns: this.#read?.partitionColumns ?? [],
      columnMappingMode: this.#read?.columnMappingMode,
    };
  }

  /** Actions in the order Spark writes them: protocol, metaData, txn, domains, removes, adds, the rest. */
  #ordered(): Action[] {
    const rank = (a: Action): number => {
      if ('protocol' in a) return 0;
      if ('metaData' in a) return 1;
      if ('txn' in a) return 2;
      if ('domainMetadata' in a) return 3;
      if ('remove' in a) return 4;
      if ('add' in a) return 5;
      return 6;
    };
    return this.#actions
      .map((action, index) => ({ action, index }))
      .sort((a, b) => rank(a.action) - rank(b.action) || a.index - b.index)
      .map((x) => x.action);
  }

  #commitInfo(): CommitInfo {
    const metrics: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#metrics ?? {})) {
      if (v !== undefined && v !== null) metrics[k] = typeof v === 'string' ? v : String(v);
    }
    return {
      timestamp: Date.now(),
      operation: this.#options.operation,
      operationParameters: this.#options.operationParameters ?? {},
      ...(this.#read ? { readVersion: this.#read.version } : {}),
      isolationLevel: this.#options.isolationLevel ?? 'Serializable',
      isBlindAppend: this.#options.isBlindAppend ?? false,
      operationMetrics: metrics,
      ...(this.#options.userMetadata !== undefined ? { userMetadata: this.#options.userMetadata } : {}),
      engineInfo: ENGINE_INFO,
      txnId: randomUUID(),
    };
  }
}

/** `Larder/<version>` from the package's own package.json. */
export const ENGINE_INFO = `Larder/${packageVersion()}`;

function packageVersion(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'larderjs' && pkg.version) return pkg.version;
    } catch {
      // Not here; look one folder up.
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return 'unknown';
}
