/**
 * ALTER TABLE … SET TBLPROPERTIES / UNSET TBLPROPERTIES: a metadata-only
 * commit changing `metaData.configuration`. When a new property needs a
 * table feature (deletion vectors, the change data feed, CHECK constraints)
 * the protocol is upgraded in the same commit; it is never downgraded.
 *
 * Invariants: `delta.columnMapping.mode` and the protocol versions cannot
 * be changed this way (they need more than a property); unsetting a missing
 * property fails unless `ifExists`; nothing is committed when nothing
 * changes.
 */
import { LarderError } from '../../errors.js';
import type { Action } from '../log/actions.js';
import type { Snapshot } from '../log/snapshot.js';
import { LocalLogStore } from '../storage/local-log-store.js';
import type { LogStore } from '../storage/log-store.js';
import { Transaction } from '../transaction/transaction.js';
import { assertWritable } from '../transaction/writer-protocol.js';
import { protocolFor } from './create.js';
import type { OperationResult } from './operation-result.js';
import { upgradedProtocol } from './protocol-upgrade.js';

export interface SetPropertiesOptions {
  /** Properties to set (values are stored as strings). */
  readonly set?: Readonly<Record<string, string | number | boolean>>;
  /** Properties to remove. */
  readonly unset?: readonly string[];
  /** With `unset`: ignore properties the table does not have. */
  readonly ifExists?: boolean;
  readonly userMetadata?: string;
  readonly store?: LogStore;
}

export interface SetPropertiesMetrics {
  readonly numPropertiesChanged: number;
}

const FIXED = new Set(['delta.columnmapping.mode', 'delta.minreaderversion', 'delta.minwriterversion']);

/**
 * Change the table's properties.
 *
 * @example
 * await setTableProperties(snapshot, { set: { 'delta.autoOptimize.optimizeWrite': 'true' } });
 * await setTableProperties(snapshot, { unset: ['owner'], ifExists: true });
 */
export async function setTableProperties(
  snapshot: Snapshot,
  options: SetPropertiesOptions,
): Promise<OperationResult<SetPropertiesMetrics>> {
  const table = snapshot.root;
  assertWritable(snapshot.protocol, snapshot.metadata, table);
  const store = options.store ?? new LocalLogStore(table);
  const configuration: Record<string, string> = { ...snapshot.metadata.configuration };
  // Delta's own keys are case-insensitive: keep the spelling the table already has.
  const keyOf = (key: string) =>
    key.toLowerCase().startsWith('delta.')
      ? (Object.keys(configuration).find((k) => k.toLowerCase() === key.toLowerCase()) ?? key)
      : key;
  let changed = 0;
  for (const [rawKey, raw] of Object.entries(options.set ?? {})) {
    const key = keyOf(rawKey);
    const value = String(raw);
    if (FIXED.has(key.toLowerCase()) || key.toLowerCase().startsWith('delta.feature.')) {
      if (configuration[key] === value) continue;
      throw new LarderError(
        'UNSUPPORTED_FEATURE',
        `table ${table}: ${key} cannot be changed with SET TBLPROPERTIES`,
        {
          table,
          feature: key,
          hint: 'create a new table with the property and copy the rows',
        },
      );
    }
    if (configuration[key] !== value) changed++;
    configuration[key] = value;
  }
  for (const rawKey of options.unset ?? []) {
    const key = keyOf(rawKey);
    if (!(key in configuration)) {
      if (options.ifExists) continue;
      throw new LarderError('INVALID_ARGUMENT', `table ${table} has no property "${rawKey}"`, {
        table,
        hint: 'use UNSET TBLPROPERTIES IF EXISTS',
      });
    }
    if (FIXED.has(key.toLowerCase())) {
      throw new LarderError('UNSUPPORTED_FEATURE', `table ${table}: ${key} cannot be unset`, {
        table,
        feature: key,
      });
    }
    delete configuration[key];
    changed++;
  }
  if (changed === 0) return { table: snapshot, metrics: { numPropertiesChanged: 0 } };
  const actions: Action[] = [];
  const protocol = upgradedProtocol(snapshot.protocol, protocolFor(snapshot.schema, configuration));
  if (protocol) actions.push({ protocol });
  actions.push({ metaData: { ...snapshot.metadata, configuration } });
  const unsetting = options.set === undefined;
  const result = await new Transaction(store, snapshot, {
    operation: unsetting ? 'UNSET TBLPROPERTIES' : 'SET TBLPROPERTIES',
    operationParameters: unsetting
      ? { properties: JSON.stringify(options.unset ?? []), ifExists: String(options.ifExists ?? false) }
      : {
          properties: JSON.stringify(
            Object.fromEntries(Object.entries(options.set ?? {}).map(([k, v]) => [k, String(v)])),
          ),
        },
    operationMetrics: {},
    readPredicate: 'none',
    isBlindAppend: false,
    userMetadata: options.userMetadata,
  })
    .addActions(...actions)
    .commit();
  return { table: result.snapshot, metrics: { numPropertiesChanged: changed } };
}
