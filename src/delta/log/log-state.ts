/**
 * Action reconciliation (PROTOCOL.md "Action Reconciliation"), the one
 * place it is implemented: log replay applies commits to a checkpoint (or
 * to nothing), and a writer applies the commits it saw to the snapshot it
 * holds, both through `LogState`.
 *
 * Rules, per commit in version order:
 * - the last `protocol` and `metaData` win;
 * - removes first, then adds; files are keyed by canonical path (relative
 *   to the table root, decoded: `file:` URIs, absolute and relative forms of
 *   one file are one key) and deletion-vector id, so an add with a deletion vector replaces the same path without one
 *   only together with the remove of it; a remove without a deletion vector
 *   removes its path whatever the live file's deletion vector;
 * - an add of a path clears its tombstone, a remove records one;
 * - the last `txn` per application id wins;
 * - `domainMetadata` with `removed: true` drops the domain, otherwise the last one wins.
 */
import { LarderError } from '../../errors.js';
import { canonicalFilePath } from '../storage/data-file-path.js';
import {
  type Add,
  type CommitActions,
  type CommitInfo,
  type DomainMetadata,
  fileKey,
  type Metadata,
  type Protocol,
  type Remove,
  type Txn,
} from './actions.js';
import { assertReadable, Snapshot } from './snapshot.js';

/** Mutable table state while commits are applied; `toSnapshot` freezes it. */
export class LogState {
  #protocol: Protocol | undefined;
  #metadata: Metadata | undefined;
  readonly #files = new Map<string, Add>();
  readonly #tombstones = new Map<string, Remove>();
  readonly #txns = new Map<string, Txn>();
  readonly #domains = new Map<string, DomainMetadata>();
  #lastCommitInfo: CommitInfo | undefined;
  /** The table root, against which paths are canonicalised. */
  readonly #root: string;

  private constructor(root: string) {
    this.#root = root;
  }

  /**
   * The state of a checkpoint (its actions as one commit), of a snapshot, or empty.
   *
   * @example
   * const state = LogState.of(store.root, checkpointActions);
   * for (const commit of commits) state.apply(commit);
   */
  static of(root: string, base?: CommitActions | Snapshot): LogState {
    const state = new LogState(root);
    if (base instanceof Snapshot) {
      state.#protocol = base.protocol;
      state.#metadata = base.metadata;
      for (const a of base.files) state.#files.set(fileKey(a, root), a);
      for (const r of base.tombstones) state.#tombstones.set(fileKey(r, root), r);
      for (const [appId, t] of base.txns) state.#txns.set(appId, t);
      for (const [domain, d] of base.domainMetadata) state.#domains.set(domain, d);
    } else if (base) {
      state.apply(base);
    }
    return state;
  }

  /** The `commitInfo` of the last commit applied (undefined if it had none). */
  get lastCommitInfo(): CommitInfo | undefined {
    return this.#lastCommitInfo;
  }

  /** Whether the current metadata enables in-commit timestamps. */
  get inCommitTimestamps(): boolean {
    return this.#metadata?.configuration['delta.enableInCommitTimestamps'] === 'true';
  }

  /** Apply one commit's actions. */
  apply(commit: CommitActions): void {
    if (commit.protocol) this.#protocol = commit.protocol;
    if (commit.metaData) this.#metadata = commit.metaData;
    const root = this.#root;
    for (const r of commit.remove) {
      const key = fileKey(r, root);
      if (!this.#files.delete(key) && !r.deletionVector) {
        // The live file may carry a deletion vector: its key is the path plus the vector's id.
        const p = canonicalFilePath(root, r.path);
        for (const [k, a] of this.#files) if (canonicalFilePath(root, a.path) === p) this.#files.delete(k);
      }
      this.#tombstones.set(key, r);
    }
    for (const a of commit.add) {
      const key = fileKey(a, root);
      this.#files.set(key, a);
      this.#tombstones.delete(key);
    }
    for (const t of commit.txn) this.#txns.set(t.appId, t);
    for (const d of commit.domainMetadata) {
      if (d.removed) this.#domains.delete(d.domain);
      else this.#domains.set(d.domain, d);
    }
    this.#lastCommitInfo = commit.commitInfo;
  }

  /**
   * The frozen snapshot of this state. Throws `CORRUPT_LOG` if no protocol
   * or metadata was seen, `UNSUPPORTED_FEATURE` if Larder cannot read the
   * protocol.
   */
  toSnapshot(init: {
    readonly root: string;
    readonly version: number;
    readonly timestamp: number;
    readonly checkpointVersion: number | undefined;
  }): Snapshot {
    const protocol = this.#protocol;
    const metadata = this.#metadata;
    if (!protocol || !metadata) {
      throw new LarderError(
        'CORRUPT_LOG',
        `table ${init.root} has no ${protocol ? 'metaData' : 'protocol'} action at version ${init.version}`,
        { table: init.root, version: init.version },
      );
    }
    if (typeof metadata.schemaString !== 'string') {
      throw new LarderError(
        'CORRUPT_LOG',
        `table ${init.root} has no schema at version ${init.version}: its last metaData action has no schemaString`,
        { table: init.root, version: init.version, hint: 'the log was written by a broken writer or edited' },
      );
    }
    assertReadable(protocol, init.root);
    return new Snapshot({
      ...init,
      protocol,
      metadata,
      files: [...this.#files.values()],
      tombstones: [...this.#tombstones.values()],
      txns: new Map(this.#txns),
      domainMetadata: new Map(this.#domains),
    });
  }
}
