/**
 * The statements of Larder SQL, as `parseStatement` gives them: one variant
 * per statement form, discriminated by `kind`. Names are the unquoted parts
 * of a dotted name (`['ml', 'churn_features', 'customer_features']`);
 * expressions and queries embedded in statements are kept as their SQL text
 * (DuckDB's dialect), exactly as written.
 *
 * Every statement carries `text`, the statement as written (backticks
 * already turned into double quotes), and its `tokens`, so that a statement
 * about a table that turns out not to be a Delta table (a DuckDB temporary
 * table) can be handed to DuckDB as it is, without being tokenized again.
 */
import type { DataType } from '../../delta/log/schema.js';
import type { TokenizedSql } from '../../engine/sql-tokenizer.js';

/** A dotted name, unquoted: `['ml', 'churn_features', 'customer_features']`. */
export type QualifiedName = readonly string[];

/** A column of `CREATE TABLE … ( … )`. */
export interface ColumnDefinition {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
  readonly comment?: string;
}

/** A time-travel selector: `VERSION AS OF n` or `TIMESTAMP AS OF '…'`. */
export interface TimeTravel {
  readonly version?: number;
  readonly timestamp?: string;
}

/** The statement's text and all its tokens. */
interface Base extends TokenizedSql {}

export interface CreateSchemaStatement extends Base {
  readonly kind: 'createSchema';
  readonly name: QualifiedName;
  readonly ifNotExists: boolean;
  readonly comment?: string;
}

export interface CreateCatalogStatement extends Base {
  readonly kind: 'createCatalog';
  readonly name: string;
  readonly ifNotExists: boolean;
  readonly comment?: string;
}

export interface ShowSchemasStatement extends Base {
  readonly kind: 'showSchemas';
  readonly catalog?: string;
  readonly like?: string;
}

export interface ShowCatalogsStatement extends Base {
  readonly kind: 'showCatalogs';
}

export interface ShowTablesStatement extends Base {
  readonly kind: 'showTables';
  readonly schema?: QualifiedName;
  readonly like?: string;
}

export interface ShowViewsStatement extends Base {
  readonly kind: 'showViews';
  readonly schema?: QualifiedName;
  readonly like?: string;
}

export interface UseStatement extends Base {
  readonly kind: 'use';
  /** `catalog` for USE CATALOG, `schema` for USE SCHEMA|DATABASE, `either` for a bare USE. */
  readonly target: 'catalog' | 'schema' | 'either';
  readonly name: QualifiedName;
}

export interface CreateTableStatement extends Base {
  readonly kind: 'createTable';
  readonly name: QualifiedName;
  readonly orReplace: boolean;
  readonly ifNotExists: boolean;
  /** `CREATE EXTERNAL TABLE` (needs a LOCATION). */
  readonly external: boolean;
  /** Undefined for CTAS (the columns come from the query) and for registering an existing location. */
  readonly columns?: readonly ColumnDefinition[];
  readonly partitionedBy?: readonly string[];
  /** `CLUSTER BY (…)`; an empty list for `CLUSTER BY NONE`. */
  readonly clusterBy?: readonly string[];
  readonly location?: string;
  readonly comment?: string;
  readonly properties?: Readonly<Record<string, string>>;
  /** `[CONSTRAINT name] PRIMARY KEY (cols)`: informational, as in Unity Catalog. */
  readonly primaryKey?: {
    readonly name?: string;
    readonly columns: readonly string[];
    readonly timeseries?: string;
  };
  /** The query of `CREATE TABLE … AS <query>`. */
  readonly asQuery?: string;
}

export interface CloneTableStatement extends Base {
  readonly kind: 'cloneTable';
  readonly name: QualifiedName;
  readonly source: QualifiedName;
  readonly orReplace: boolean;
  readonly ifNotExists: boolean;
  readonly at?: TimeTravel;
  readonly location?: string;
  readonly comment?: string;
  readonly properties?: Readonly<Record<string, string>>;
}

export interface CreateViewStatement extends Base {
  readonly kind: 'createView';
  readonly name: QualifiedName;
  readonly orReplace: boolean;
  readonly ifNotExists: boolean;
  readonly temporary: boolean;
  readonly columns?: readonly string[];
  readonly comment?: string;
  readonly query: string;
}

export interface DropTableStatement extends Base {
  readonly kind: 'dropTable';
  readonly name: QualifiedName;
  readonly ifExists: boolean;
}

export interface DropViewStatement extends Base {
  readonly kind: 'dropView';
  readonly name: QualifiedName;
  readonly ifExists: boolean;
}

export interface TruncateStatement extends Base {
  readonly kind: 'truncate';
  readonly name: QualifiedName;
}

export interface InsertStatement extends Base {
  readonly kind: 'insert';
  readonly name: QualifiedName;
  readonly overwrite: boolean;
  /** `INSERT INTO t (a, b) …`: the query's columns go to these, by position. */
  readonly columns?: readonly string[];
  /** `INSERT INTO t BY NAME …`: the query's columns go by name. */
  readonly byName: boolean;
  /** The query (or `VALUES …`). */
  readonly query: string;
}

/** `SET col = expr` of UPDATE and MERGE: the column's parts as written (`t.col` → `['t', 'col']`). */
export interface Assignment {
  readonly column: QualifiedName;
  readonly expression: string;
}

export type MergeClause =
  | {
      readonly when: 'matched';
      readonly condition?: string;
      readonly action: 'update';
      /** Undefined for `UPDATE SET *`. */
      readonly set?: readonly Assignment[];
    }
  | { readonly when: 'matched'; readonly condition?: string; readonly action: 'delete' }
  | {
      readonly when: 'notMatched';
      readonly condition?: string;
      readonly action: 'insert';
      /** Undefined for `INSERT *`. */
      readonly columns?: readonly QualifiedName[];
      readonly values?: readonly string[];
    };

export interface MergeStatement extends Base {
  readonly kind: 'merge';
  readonly target: QualifiedName;
  readonly targetAlias?: string;
  /** A table (or view) name, or a parenthesized query. */
  readonly source:
    | { readonly kind: 'table'; readonly text: string; readonly name: QualifiedName }
    | {
        readonly kind: 'query';
        readonly query: string;
      };
  readonly sourceAlias?: string;
  readonly on: string;
  readonly clauses: readonly MergeClause[];
}

export interface UpdateStatement extends Base {
  readonly kind: 'update';
  readonly name: QualifiedName;
  readonly alias?: string;
  readonly set: readonly Assignment[];
  readonly where?: string;
}

export interface DeleteStatement extends Base {
  readonly kind: 'delete';
  readonly name: QualifiedName;
  readonly alias?: string;
  readonly where?: string;
}

export interface DescribeTableStatement extends Base {
  readonly kind: 'describeTable';
  readonly name: QualifiedName;
  readonly extended: boolean;
}

export interface DescribeDetailStatement extends Base {
  readonly kind: 'describeDetail';
  readonly name: QualifiedName;
}

export interface DescribeHistoryStatement extends Base {
  readonly kind: 'describeHistory';
  readonly name: QualifiedName;
  readonly limit?: number;
}

export interface ShowTblPropertiesStatement extends Base {
  readonly kind: 'showTblProperties';
  readonly name: QualifiedName;
  readonly key?: string;
}

export interface AlterSetPropertiesStatement extends Base {
  readonly kind: 'alterSetProperties';
  readonly name: QualifiedName;
  readonly properties: Readonly<Record<string, string>>;
}

export interface AlterUnsetPropertiesStatement extends Base {
  readonly kind: 'alterUnsetProperties';
  readonly name: QualifiedName;
  readonly keys: readonly string[];
  readonly ifExists: boolean;
}

export interface AlterClusterByStatement extends Base {
  readonly kind: 'alterClusterBy';
  readonly name: QualifiedName;
  /** Empty for `CLUSTER BY NONE`. */
  readonly columns: readonly string[];
}

/** `ALTER TABLE t {ALTER | CHANGE} [COLUMN] c TYPE type`: type widening. */
export interface AlterColumnTypeStatement extends Base {
  readonly kind: 'alterColumnType';
  readonly name: QualifiedName;
  readonly column: string;
  readonly type: DataType;
}

export interface RestoreStatement extends Base {
  readonly kind: 'restore';
  readonly name: QualifiedName;
  readonly to: TimeTravel;
}

export interface OptimizeStatement extends Base {
  readonly kind: 'optimize';
  readonly name: QualifiedName;
  readonly where?: string;
  readonly zorderBy?: readonly string[];
}

export interface VacuumStatement extends Base {
  readonly kind: 'vacuum';
  readonly name: QualifiedName;
  readonly retainHours?: number;
  readonly dryRun: boolean;
}

export interface SetStatement extends Base {
  readonly kind: 'set';
  /** Undefined for a bare `SET` (list the settings). */
  readonly key?: string;
  /** Undefined for `SET key` (show it). */
  readonly value?: string;
}

export interface ResetStatement extends Base {
  readonly kind: 'reset';
  readonly key?: string;
}

export interface ExplainStatement extends Base {
  readonly kind: 'explain';
  /** `extended`, `cost`, `formatted`, `codegen`, `analyze`, or undefined. */
  readonly mode?: string;
  readonly query: string;
}

/**
 * Anything else: DuckDB SQL, run by the engine (with Larder's name
 * rewriting). `deferredError` is set when the statement names a one-part
 * table with syntax Larder does not accept for Delta tables: the error is
 * raised if the name turns out to be a Delta table, and the statement goes
 * to DuckDB otherwise.
 */
export interface QueryStatement extends Base {
  readonly kind: 'query';
  /** The DuckDB SQL to run, with its tokens: the statement itself, or `DESCRIBE q` for `DESCRIBE QUERY q`. */
  readonly query: TokenizedSql;
  readonly deferredError?: { readonly name: QualifiedName; readonly error: Error };
}

/** A statement of Larder SQL. */
export type Statement =
  | CreateSchemaStatement
  | CreateCatalogStatement
  | ShowSchemasStatement
  | ShowCatalogsStatement
  | ShowTablesStatement
  | ShowViewsStatement
  | UseStatement
  | CreateTableStatement
  | CloneTableStatement
  | CreateViewStatement
  | DropTableStatement
  | DropViewStatement
  | TruncateStatement
  | InsertStatement
  | MergeStatement
  | UpdateStatement
  | DeleteStatement
  | DescribeTableStatement
  | DescribeDetailStatement
  | DescribeHistoryStatement
  | ShowTblPropertiesStatement
  | AlterSetPropertiesStatement
  | AlterUnsetPropertiesStatement
  | AlterClusterByStatement
  | AlterColumnTypeStatement
  | RestoreStatement
  | OptimizeStatement
  | VacuumStatement
  | SetStatement
  | ResetStatement
  | ExplainStatement
  | QueryStatement;

/** The statement kinds. */
export type StatementKind = Statement['kind'];
