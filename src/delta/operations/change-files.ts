/**
 * Writing the change data feed of a commit: the rows an operation inserted,
 * deleted or updated (pre- and post-images), with a `_change_type` column,
 * as Parquet files under `_change_data/` referenced by `cdc` actions
 * (PROTOCOL.md "Change Data Files"). Readers of the feed use only these
 * files for a commit that has them, so an operation that writes any must
 * write all of its changes.
 */
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AddCdcFile } from '../log/actions.js';
import type { StructType } from '../log/schema.js';
import type { Snapshot } from '../log/snapshot.js';
import { dataFileLocalPath } from '../storage/data-file-path.js';
import { writeDataFiles } from './write-files.js';

export const CHANGE_DATA_DIR = '_change_data';

export interface WrittenChangeFiles {
  readonly cdc: readonly AddCdcFile[];
  readonly writtenFiles: readonly string[];
  readonly rows: number;
}

/**
 * Write the rows of `changesSql` (the table's columns plus `_change_type`)
 * as change data files of `snapshot`'s table.
 */
export async function writeChangeFiles(
  connection: DuckDBConnection,
  snapshot: Snapshot,
  changesSql: string,
): Promise<WrittenChangeFiles> {
  const schema: StructType = {
    type: 'struct',
    fields: [
      ...snapshot.schema.fields,
      {
        name: '_change_type',
        type: 'string',
        nullable: false,
        // Spark stores the column under its own name, also in column-mapped tables.
        metadata:
          snapshot.columnMappingMode === 'none' ? {} : { 'delta.columnMapping.physicalName': '_change_type' },
      },
    ],
  };
  const root = join(snapshot.root, CHANGE_DATA_DIR);
  const written = await writeDataFiles({
    root,
    schema,
    partitionColumns: snapshot.partitionColumns,
    columnMappingMode: snapshot.columnMappingMode,
    table: snapshot.root,
    connection,
    sourceSql: changesSql,
    dataChange: false,
  });
  const cdc = written.adds.map(
    (add): AddCdcFile => ({
      path: `${CHANGE_DATA_DIR}/${add.path}`,
      partitionValues: add.partitionValues,
      size: add.size,
      dataChange: false,
    }),
  );
  const writtenFiles = written.adds.map((add) => dataFileLocalPath(root, add.path));
  return { cdc, writtenFiles, rows: written.rows };
}
