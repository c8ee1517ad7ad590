/**
 * A pipeline's state in its output table's Delta log: the domain metadata
 * `larder.pipeline.<pipeline>`, whose configuration is the JSON
 * `{watermarks: {<source>: "<value as text>" | null}, runId, mode, fingerprint}`.
 *
 * Why in the Delta log rather than in the catalog: the state is committed
 * in the same commit as the rows it describes, so the watermark advances if
 * and only if the data commits (a crash or a failed run leaves both as they
 * were), and a concurrent run of the same pipeline conflicts on the domain.
 * The table carries its own state wherever it is copied or cloned.
 */
import type { DomainMetadata } from '../delta/log/actions.js';
import type { Snapshot } from '../delta/log/snapshot.js';

/** The prefix of pipeline state domains. */
export const PIPELINE_DOMAIN_PREFIX = 'larder.pipeline.';

/** What the last successful run of a pipeline left in its output table. */
export interface PipelineState {
  /**
   * Per change-tracked source, the greatest change value the output
   * reflects, as DuckDB prints it (`2024-07-01 12:00:00.123456+00`, `42`);
   * null when the source had no row.
   */
  readonly watermarks: Readonly<Record<string, string | null>>;
  readonly runId: string;
  readonly mode: 'full' | 'incremental';
  /** `pipelineFingerprint` of the pipeline that wrote it. */
  readonly fingerprint?: string;
}

/**
 * @example
 * pipelineDomain('customer_features'); // 'larder.pipeline.customer_features'
 */
export function pipelineDomain(pipeline: string): string {
  return `${PIPELINE_DOMAIN_PREFIX}${pipeline}`;
}

/**
 * The state pipeline `pipeline` left in `snapshot`, or undefined when it
 * never ran there (or the domain does not hold a state we can read, which
 * makes the next run a full one).
 *
 * @example
 * const state = readPipelineState(table.snapshot, 'customer_features');
 * console.log(state?.watermarks.raw_transactions);
 */
export function readPipelineState(snapshot: Snapshot, pipeline: string): PipelineState | undefined {
  const domain = snapshot.domainMetadata.get(pipelineDomain(pipeline));
  if (!domain || domain.removed) return undefined;
  try {
    const parsed = JSON.parse(domain.configuration) as Partial<PipelineState>;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    if (typeof parsed.watermarks !== 'object' || parsed.watermarks === null) return undefined;
    const watermarks: Record<string, string | null> = {};
    for (const [source, value] of Object.entries(parsed.watermarks)) {
      if (value !== null && typeof value !== 'string') return undefined;
      watermarks[source] = value;
    }
    return {
      watermarks,
      runId: String(parsed.runId ?? ''),
      mode: parsed.mode === 'incremental' ? 'incremental' : 'full',
      ...(typeof parsed.fingerprint === 'string' ? { fingerprint: parsed.fingerprint } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * The domain metadata action recording `state` for `pipeline`.
 *
 * @example
 * await table.merge({ source, on: ['customer_id'], domainMetadata: [pipelineStateMetadata('customer_features', state)] });
 */
export function pipelineStateMetadata(pipeline: string, state: PipelineState): DomainMetadata {
  return { domain: pipelineDomain(pipeline), configuration: JSON.stringify(state), removed: false };
}
