/**
 * `larder describe <table>`: everything the catalog knows about a table
 * (location, description, owner, tags, and for a feature table its keys,
 * timeseries, partition and clustering columns, features and lineage) and
 * the facts of its Delta table (version, last commit, files, size, rows from
 * the file statistics, properties, protocol, columns). Text, or `--json`.
 *
 * An unknown name (or a view) fails with `TABLE_NOT_FOUND`. A registered
 * table whose Delta folder cannot be read is still described, with the
 * reason instead of the Delta facts.
 */
import { Command } from 'commander';
import type { TableEntry } from '../../catalog/metastore.js';
import type { DeltaTable } from '../../delta/delta-table.js';
import type { DataType } from '../../delta/log/schema.js';
import { isLarderError } from '../../errors.js';
import { textTable } from '../text-table.js';

interface DescribeOptions {
  readonly project?: string;
  readonly json?: boolean;
}

/** A column of the Delta schema, with its role in a feature table. */
export interface DescribedColumn {
  readonly name: string;
  /** The Delta type name (`long`, `decimal(10,2)`, `array<string>`). */
  readonly type: string;
  readonly nullable: boolean;
  /** `primary key`, `timeseries key`, `feature`, or null outside feature tables. */
  readonly role: string | null;
  readonly description: string | null;
}

/** The Delta facts `describe` shows. */
export interface DescribedDelta {
  readonly version: number;
  readonly lastCommit: string;
  readonly lastOperation: string | null;
  readonly numFiles: number;
  readonly sizeInBytes: number;
  /** From the files' statistics; null when a file has none. */
  readonly numRows: number | null;
  readonly partitionColumns: readonly string[];
  readonly clusteringColumns: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  readonly tableFeatures: readonly string[];
  readonly columns: readonly DescribedColumn[];
}

/** What `larder describe --json` prints. */
export interface TableDescription {
  readonly name: string;
  readonly location: string;
  readonly managed: boolean;
  readonly description: string | null;
  readonly owner: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Catalog properties (not the Delta table's). */
  readonly properties: Readonly<Record<string, string>>;
  readonly featureTable: boolean;
  readonly feature: TableEntry['feature'] | null;
  readonly delta: DescribedDelta | null;
  /** Why the Delta table could not be read, when it could not. */
  readonly deltaError?: string;
}

/**
 * The `describe` command; its action writes to `process.stdout`.
 *
 * @example
 * program.addCommand(describeCommand()); // larder describe ml.churn_features.customer_features --json
 */
export function describeCommand(): Command {
  return new Command('describe')
    .description('show what the catalog and the Delta log know about a table')
    .argument('<table>', 'table name: catalog.schema.table (or schema.table, table in main.default)')
    .option('-C, --project <dir>', 'project folder (default: the current folder)')
    .option('--json', 'print a JSON object')
    .addHelpText(
      'after',
      `
Examples:
  $ larder describe ml.churn_features.customer_features
  $ larder describe ml.churn_features.customer_features --json`,
    )
    .action(async (name: string, options: DescribeOptions) => {
      // Loaded here, not at the top, so `larder --help` does not start DuckDB.
      const { openCliProject } = await import('../open-cli-project.js');
      const project = await openCliProject(options.project);
      const engine = project.engine;
      try {
        const entry = await engine.metastore.getTable(engine.parseName(name));
        let table: DeltaTable | undefined;
        let deltaError: string | undefined;
        try {
          // Also the error for an unknown name or a view, when there is no entry.
          table = (await engine.resolveTable(name)).table;
        } catch (error) {
          if (!entry || !isLarderError(error)) throw error;
          deltaError = error.message;
        }
        if (!entry) throw new Error(`unreachable: ${name} resolved without a catalog entry`);
        const described = await describeTable(entry, table, deltaError);
        process.stdout.write(
          options.json ? `${JSON.stringify(described, null, 2)}\n` : formatDescription(described),
        );
      } finally {
        await project.close();
      }
    });
}

async function describeTable(
  entry: TableEntry,
  table: DeltaTable | undefined,
  deltaError: string | undefined,
): Promise<TableDescription> {
  const feature = entry.feature;
  let delta: DescribedDelta | null = null;
  if (table) {
    const detail = table.describeDetail();
    const [last] = await table.history(1);
    const featureOf = new Map(feature?.features.map((f) => [f.name, f]) ?? []);
    delta = {
      version: table.version,
      lastCommit: isoTime(table.snapshot.timestamp),
      lastOperation: last?.operation ?? null,
      numFiles: detail.numFiles,
      sizeInBytes: detail.sizeInBytes,
      numRows: table.snapshot.numRecords ?? null,
      partitionColumns: detail.partitionColumns,
      clusteringColumns: detail.clusteringColumns,
      properties: detail.properties,
      minReaderVersion: detail.minReaderVersion,
      minWriterVersion: detail.minWriterVersion,
      tableFeatures: detail.tableFeatures,
      columns: table.snapshot.schema.fields.map((f) => {
        const comment = typeof f.metadata.comment === 'string' ? f.metadata.comment : null;
        let role: string | null = null;
        if (feature) {
          if (f.name === feature.timeseriesColumn) role = 'timeseries key';
          else if (feature.primaryKeys.includes(f.name)) role = 'primary key';
          else if (featureOf.has(f.name)) role = 'feature';
        }
        return {
          name: f.name,
          type: deltaTypeName(f.type),
          nullable: f.nullable,
          role,
          description: featureOf.get(f.name)?.description ?? comment,
        };
      }),
    };
  }
  return {
    name: entry.fullName,
    location: entry.location,
    managed: entry.managed,
    description: entry.description ?? null,
    owner: feature?.owner ?? null,
    createdAt: isoTime(entry.createdAt),
    updatedAt: isoTime(entry.updatedAt),
    tags: entry.tags,
    properties: entry.properties,
    featureTable: feature !== undefined,
    feature: feature ?? null,
    delta,
    ...(deltaError === undefined ? {} : { deltaError }),
  };
}

function formatDescription(d: TableDescription): string {
  const out: string[] = [];
  const section = (title: string, pairs: readonly (readonly [string, string])[]): void => {
    if (out.length > 0) out.push('');
    if (title !== '') out.push(title);
    out.push(...textTable(pairs, { indent: title === '' ? '' : '  ' }));
  };
  const list = (items: readonly string[]): string => (items.length === 0 ? '-' : items.join(', '));

  section('', [
    ['Table', d.name],
    ['Kind', `${d.featureTable ? 'feature table' : 'table'}, ${d.managed ? 'managed' : 'external'}`],
    ['Location', d.location],
    ['Description', d.description ?? '-'],
    ['Owner', d.owner ?? '-'],
    ['Created', d.createdAt],
    ['Updated', d.updatedAt],
    ['Tags', formatPairs(d.tags)],
    ['Properties', formatPairs(d.properties)],
  ]);
  const f = d.feature;
  if (f) {
    section('Feature table', [
      ['Primary keys', list(f.primaryKeys)],
      ['Timeseries column', f.timeseriesColumn ?? '-'],
      ['Partition columns', list(f.partitionColumns)],
      ['Cluster columns', list(f.clusterBy)],
      ['Lineage', formatLineage(f.lineage)],
    ]);
    out.push('', `Features (${f.features.length})`);
    out.push(
      ...textTable(
        [['NAME', 'TYPE', 'DESCRIPTION'], ...f.features.map((c) => [c.name, c.type, c.description ?? ''])],
        { indent: '  ' },
      ),
    );
  }
  if (d.delta) {
    const x = d.delta;
    section('Delta', [
      ['Version', String(x.version)],
      ['Last commit', `${x.lastCommit}${x.lastOperation === null ? '' : ` (${x.lastOperation})`}`],
      ['Files', x.numFiles.toLocaleString('en-US')],
      ['Size', formatBytes(x.sizeInBytes)],
      ['Rows', x.numRows === null ? 'unknown (files without statistics)' : x.numRows.toLocaleString('en-US')],
      ['Partitioned by', list(x.partitionColumns)],
      ['Clustered by', list(x.clusteringColumns)],
      ['Properties', formatPairs(x.properties)],
      [
        'Protocol',
        `reader ${x.minReaderVersion}, writer ${x.minWriterVersion}${
          x.tableFeatures.length === 0 ? '' : ` (${x.tableFeatures.join(', ')})`
        }`,
      ],
    ]);
    out.push('', `Columns (${x.columns.length})`);
    out.push(
      ...textTable(
        [
          ['NAME', 'TYPE', 'NULLABLE', 'ROLE', 'DESCRIPTION'],
          ...x.columns.map((c) => [
            c.name,
            c.type,
            c.nullable ? 'yes' : 'no',
            c.role ?? '-',
            c.description ?? '',
          ]),
        ],
        { indent: '  ' },
      ),
    );
  } else {
    section('Delta', [['Unavailable', d.deltaError ?? 'unknown reason']]);
  }
  return `${out.join('\n')}\n`;
}

function formatLineage(lineage: { readonly pipeline?: string; readonly sources: readonly string[] }): string {
  const parts: string[] = [];
  if (lineage.pipeline !== undefined) parts.push(`pipeline ${lineage.pipeline}`);
  if (lineage.sources.length > 0) parts.push(`sources ${lineage.sources.join(', ')}`);
  return parts.length === 0 ? '-' : parts.join('; ');
}

/** `k=v, k2=v2`, or `-` for none. */
function formatPairs(pairs: Readonly<Record<string, string>>): string {
  const entries = Object.entries(pairs);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}

/** `12.3 KiB (12,634 bytes)`. */
function formatBytes(bytes: number): string {
  const exact = `${bytes.toLocaleString('en-US')} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = '';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return unit === '' ? exact : `${value.toFixed(1)} ${unit} (${exact})`;
}

/** A Delta type as Delta names it: `long`, `decimal(10,2)`, `array<string>`, `struct<a:long>`. */
function deltaTypeName(type: DataType): string {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'array':
      return `array<${deltaTypeName(type.elementType)}>`;
    case 'map':
      return `map<${deltaTypeName(type.keyType)},${deltaTypeName(type.valueType)}>`;
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${deltaTypeName(f.type)}`).join(',')}>`;
  }
}

/** `2024-05-01T12:00:00Z`: ISO time to the second. */
function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
