/**
 * Removing individual rows from data files, shared by MERGE, DELETE and
 * UPDATE. The rows to remove are given as (file path, row position) pairs in
 * a DuckDB table; each touched file then either
 * - disappears (every row of it is gone): a `remove` action;
 * - gets a deletion vector holding its old and new deleted positions
 *   (tables with `delta.enableDeletionVectors`): `remove` of the old entry
 *   and `add` of the same file with the new vector, so the cost follows the
 *   change, not the file; or
 * - is rewritten without those rows (copy-on-write, tables without deletion
 *   vectors).
 *
 * Invariant: nothing here commits; the caller commits the returned actions
 * or deletes `writtenFiles` when it does not.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryJson, sqlIdent, sqlStringList } from '../../duckdb/duckdb.js';
import { LarderError } from '../../errors.js';
import type { Action, Add } from '../log/actions.js';
import type { Snapshot } from '../log/snapshot.js';
import { fileStats } from '../log/stats.js';
import { deletionVectorPath, readDeletionVector, writeDeletionVectorFile } from '../scan/deletion-vector.js';
import { planScan } from '../scan/scan.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { removeOf } from './write.js';
import { tableFileOptions, writeDataFiles } from './write-files.js';

/** Column names of a row-position table: the file's path as in the log, and the row's position in it. */
export const FILE_COLUMN = '__larder_file';
export const ROW_COLUMN = '__larder_row';

export interface RowDeletionsResult {
  readonly actions: readonly Action[];
  /** Files written (deletion vectors, rewritten data), to delete if the commit fails. */
  readonly writtenFiles: readonly string[];
  readonly filesRemoved: number;
  readonly filesAdded: number;
  readonly deletionVectorsAdded: number;
  readonly deletionVectorsRemoved: number;
  /** Rows copied into rewritten files (copy-on-write only). */
  readonly rowsCopied: number;
}

/** Whether a table writes deletion vectors for row-level changes. */
export function usesDeletionVectors(snapshot: Snapshot): boolean {
  return (
    snapshot.properties['delta.enableDeletionVectors'] === 'true' &&
    (snapshot.protocol.writerFeatures?.includes('deletionVectors') ?? false)
  );
}

/**
 * Turn the positions in `positionsTable` (columns `__larder_file`,
 * `__larder_row`) into the actions that remove those rows from `snapshot`.
 */
export async function applyRowDeletions(
  connection: DuckDBConnection,
  snapshot: Snapshot,
  positionsTable: string,
): Promise<RowDeletionsResult> {
  const grouped = await queryJson(
    connection,
    `SELECT ${FILE_COLUMN} AS file, list(DISTINCT ${ROW_COLUMN} ORDER BY ${ROW_COLUMN}) AS rows
     FROM ${positionsTable} GROUP BY ${FILE_COLUMN}`,
    'grouping deleted rows by file',
  );
  const byPath = new Map(snapshot.files.map((f) => [f.path, f]));
  const now = Date.now();
  const actions: Action[] = [];
  const writtenFiles: string[] = [];
  const rewrite: Add[] = [];
  let filesRemoved = 0;
  let filesAdded = 0;
  let deletionVectorsAdded = 0;
  let deletionVectorsRemoved = 0;
  const withVectors = usesDeletionVectors(snapshot);
  for (const group of grouped) {
    const file = byPath.get(String(group.file));
    if (!file) {
      throw new LarderError(
        'CORRUPT_LOG',
        `row positions name file ${String(group.file)}, which is not in the table`,
        {
          table: snapshot.root,
          file: String(group.file),
        },
      );
    }
    const rows = (group.rows as (number | string)[]).map(Number);
    const previous = file.deletionVector ? await readDeletionVector(snapshot.root, file.deletionVector) : [];
    const deleted = mergeSorted(previous, rows);
    const total = fileStats(file)?.numRecords ?? (await countRows(connection, snapshot, file));
    actions.push({ remove: removeOf(file, now) });
    filesRemoved++;
    if (file.deletionVector) deletionVectorsRemoved++;
    if (deleted.length >= total) continue;
    if (withVectors) {
      const deletionVector = await writeDeletionVectorFile(snapshot.root, deleted);
      writtenFiles.push(deletionVectorPath(snapshot.root, deletionVector));
      actions.push({ add: { ...file, deletionVector, dataChange: true, modificationTime: now } });
      filesAdded++;
      deletionVectorsAdded++;
    } else {
      rewrite.push(file);
    }
  }
  let rowsCopied = 0;
  if (rewrite.length > 0) {
    const plan = await planScan(snapshot, { files: rewrite, withRowIds: true });
    const columns = snapshot.schema.fields.map((f) => sqlIdent(f.name)).join(', ');
    const written = await writeDataFiles({
      ...tableFileOptions(snapshot),
      connection,
      sourceSql: `SELECT ${columns} FROM (${plan.sql}) AS t
        WHERE (t.${FILE_COLUMN} IN ${sqlListOf(rewrite.map((f) => f.path))})
          AND NOT EXISTS (SELECT 1 FROM ${positionsTable} p
                          WHERE p.${FILE_COLUMN} = t.${FILE_COLUMN} AND p.${ROW_COLUMN} = t.${ROW_COLUMN})`,
    });
    for (const add of written.adds) {
      actions.push({ add });
      writtenFiles.push(dataFileLocalPath(snapshot.root, add.path));
    }
    filesAdded += written.adds.length;
    rowsCopied = written.rows;
  }
  return {
    actions,
    writtenFiles,
    filesRemoved,
    filesAdded,
    deletionVectorsAdded,
    deletionVectorsRemoved,
    rowsCopied,
  };
}

function sqlListOf(values: readonly string[]): string {
  return `(SELECT unnest(${sqlStringList(values)}))`;
}

function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  if (a.length === 0) return [...b];
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}

async function countRows(connection: DuckDBConnection, snapshot: Snapshot, file: Add): Promise<number> {
  const local = dataFileLocalPath(snapshot.root, file.path);
  const rows = await queryJson(
    connection,
    `SELECT sum(row_group_num_rows) AS n FROM (SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(${sqlStringList([local])}))`,
    `counting the rows of ${file.path}`,
  );
  return Number(rows[0]?.n ?? 0);
}
