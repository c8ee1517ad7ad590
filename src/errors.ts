/**
 * The one exception class of Larder. Every failure a user can cause is a
 * `LarderError` with a stable `code`, a message naming what is at fault, the
 * context (table, column, version, file) and, where we know it, a `hint`
 * saying what to do next.
 */

/** Stable error codes. Add to this list; never rename or reuse a code. */
export type LarderErrorCode =
  | 'TABLE_NOT_FOUND'
  | 'TABLE_ALREADY_EXISTS'
  | 'VERSION_NOT_FOUND'
  | 'SCHEMA_MISMATCH'
  | 'CONCURRENT_MODIFICATION'
  | 'UNSUPPORTED_FEATURE'
  | 'CORRUPT_LOG'
  | 'INVALID_ARGUMENT'
  | 'CONSTRAINT_VIOLATION'
  | 'SQL_ERROR'
  | 'DUPLICATE_KEY'
  | 'CHANGE_DATA_NOT_RECORDED'
  | 'IO_ERROR'
  | 'SCHEMA_ALREADY_EXISTS'
  | 'SCHEMA_NOT_FOUND'
  | 'VIEW_ALREADY_EXISTS'
  | 'VIEW_NOT_FOUND'
  | 'VIEW_CYCLE'
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_INVALID'
  | 'NOT_A_FEATURE_TABLE'
  | 'PIPELINE_NOT_FOUND'
  | 'PIPELINE_FAILED'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_ERROR'
  | 'PIPELINE_BUSY'
  | 'CANCELLED';

/** Where an error happened: whatever of these applies. */
export interface LarderErrorContext {
  readonly table?: string;
  readonly column?: string;
  readonly version?: number;
  readonly file?: string;
  readonly feature?: string;
  /** A config object at fault (`featureTables["ml.churn_features.customer_features"]`). */
  readonly object?: string;
  /** A field of that object (`primaryKeys`). */
  readonly field?: string;
  readonly pipeline?: string;
  readonly source?: string;
  readonly [key: string]: unknown;
}

export interface LarderErrorOptions extends LarderErrorContext {
  readonly hint?: string;
  readonly cause?: unknown;
}

/**
 * @example
 * throw new LarderError('SCHEMA_MISMATCH', `column "amount" is VARCHAR, the table has DOUBLE`, {
 *   table: 'ml.churn.tx', column: 'amount', hint: 'cast the column or overwrite with mergeSchema',
 * });
 */
export class LarderError extends Error {
  readonly code: LarderErrorCode;
  readonly hint: string | undefined;
  readonly context: LarderErrorContext;

  constructor(code: LarderErrorCode, message: string, options: LarderErrorOptions = {}) {
    const { hint, cause, ...context } = options;
    super(hint ? `${message} (${hint})` : message, cause === undefined ? undefined : { cause });
    this.name = 'LarderError';
    this.code = code;
    this.hint = hint;
    this.context = Object.freeze(context);
  }
}

/** True when `error` is a LarderError, optionally with the given code. */
export function isLarderError(error: unknown, code?: LarderErrorCode): error is LarderError {
  return error instanceof LarderError && (code === undefined || error.code === code);
}
