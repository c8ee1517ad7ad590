/**
 * The parser of Larder SQL statements: a recursive descent over the
 * significant tokens of `engine/sql-tokenizer.ts`. It recognises the Delta and
 * Spark statements of Larder SQL (`CREATE TABLE … USING DELTA`, `MERGE INTO`,
 * `OPTIMIZE`, `VACUUM`, `DESCRIBE HISTORY`, `SET key = value`, …) and hands
 * everything else over as DuckDB SQL (`{ kind: 'query' }`). Expressions and
 * queries inside statements are not parsed: they are kept as text spans
 * (DuckDB parses them when they run).
 *
 * Invariants:
 * - keywords are case-insensitive; comments may appear anywhere; a trailing
 *   comma before `)` is accepted in lists, as Databricks accepts it;
 *   backtick-quoted identifiers are accepted (they become `"…"`);
 * - a syntax error is a `SQL_ERROR` naming the token and its line and
 *   column; Spark/Databricks syntax Larder does not implement is an
 *   `UNSUPPORTED_FEATURE` naming the construct. Both are raised while
 *   parsing, before any statement of the script runs;
 * - a statement about a one-part table name that Larder cannot parse is
 *   kept for DuckDB with the error deferred (`QueryStatement.deferredError`),
 *   since the name may be a DuckDB temporary table.
 */
import { sparkToDuckDb } from '../../engine/spark-dialect.js';
import { SqlTokenBuilder } from '../../engine/sql-token-builder.js';
import { splitTokenized, type TokenizedSql, tokenizeSql } from '../../engine/sql-tokenizer.js';
import { isLarderError, LarderError } from '../../errors.js';
import { readSparkType } from './spark-types.js';
import type {
  Assignment,
  ColumnDefinition,
  CreateTableStatement,
  MergeClause,
  MergeStatement,
  QualifiedName,
  Statement,
  TimeTravel,
} from './statement.js';
import { type StatementPosition, TokenCursor } from './token-cursor.js';

/** First words of Spark/Databricks statements Larder does not run, and the construct to name. */
const UNSUPPORTED_FIRST_WORDS: Readonly<Record<string, string>> = {
  GRANT: 'GRANT',
  REVOKE: 'REVOKE',
  DENY: 'DENY',
  FSCK: 'FSCK REPAIR TABLE',
  CONVERT: 'CONVERT TO DELTA',
  MSCK: 'MSCK REPAIR TABLE',
  REPAIR: 'REPAIR TABLE',
  REFRESH: 'REFRESH',
  CACHE: 'CACHE TABLE',
  UNCACHE: 'UNCACHE TABLE',
  CLEAR: 'CLEAR CACHE',
  REORG: 'REORG TABLE',
  UNDROP: 'UNDROP',
  SYNC: 'SYNC',
  APPLY: 'APPLY CHANGES',
  GENERATE: 'GENERATE symlink_format_manifest',
  ADD: 'ADD JAR/FILE',
  LIST: 'LIST',
};

/** What CREATE may be followed by that Larder refuses, and the construct to name. */
const UNSUPPORTED_CREATE: Readonly<Record<string, string>> = {
  FUNCTION: 'CREATE FUNCTION',
  MATERIALIZED: 'CREATE MATERIALIZED VIEW',
  STREAMING: 'CREATE STREAMING TABLE',
  LIVE: 'CREATE LIVE TABLE',
  SHARE: 'CREATE SHARE',
  RECIPIENT: 'CREATE RECIPIENT',
  PROVIDER: 'CREATE PROVIDER',
  VOLUME: 'CREATE VOLUME',
  CONNECTION: 'CREATE CONNECTION',
  EXTERNAL: 'CREATE EXTERNAL LOCATION',
  STORAGE: 'CREATE STORAGE CREDENTIAL',
  SERVER: 'CREATE SERVER',
};

const QUERY_STARTS = new Set(['SELECT', 'WITH', 'VALUES', 'FROM', 'TABLE']);

/**
 * Parse a script: it is tokenized once and split at its top-level `;`;
 * in each statement's tokens backticks become double quotes and the
 * Spark-only expression forms of `engine/spark-dialect.ts` become DuckDB's;
 * then every statement is parsed from its tokens (so a syntax error or an
 * unsupported construct anywhere fails the script before any of it runs).
 * Statements keep their tokens for the engine: the text is never scanned again.
 *
 * @example
 * const [create, optimize] = parseScript(`
 *   CREATE TABLE ml.s.t (id INT, day DATE) USING DELTA PARTITIONED BY (day);
 *   OPTIMIZE ml.s.t ZORDER BY (id)`);
 */
export function parseScript(script: string): Statement[] {
  return splitTokenized(tokenizeSql(script)).map((statement) =>
    parseTokenized(sparkToDuckDb(statement), { script, start: statement.start }),
  );
}

/**
 * Parse one statement (without its `;`).
 *
 * @example
 * parseStatement('VACUUM ml.s.t RETAIN 168 HOURS');
 * // { kind: 'vacuum', name: ['ml', 's', 't'], retainHours: 168, dryRun: false, text: … }
 */
export function parseStatement(text: string, position?: StatementPosition): Statement {
  return parseTokenized(sparkToDuckDb(tokenizeSql(text)), position);
}

/** Parse one statement from its tokens (Spark spellings already rewritten). */
function parseTokenized(statement: TokenizedSql, position?: StatementPosition): Statement {
  const cursor = new TokenCursor(statement, position);
  if (cursor.atEnd)
    throw new LarderError('SQL_ERROR', 'there is no statement to run (only comments or spaces)');
  return new StatementParser(cursor).statement();
}

class StatementParser {
  readonly #c: TokenCursor;
  /** The statement's text and tokens, as every statement carries them. */
  readonly #source: TokenizedSql;

  constructor(cursor: TokenCursor) {
    this.#c = cursor;
    this.#source = { text: cursor.text, tokens: cursor.source.tokens };
  }

  statement(): Statement {
    const c = this.#c;
    const first = c.peek()!;
    const word = first.kind === 'word' ? first.text.toUpperCase() : '';
    const unsupported = UNSUPPORTED_FIRST_WORDS[word];
    if (unsupported !== undefined) throw c.unsupported(unsupported);
    switch (word) {
      case 'CREATE':
        return this.#create();
      case 'REPLACE':
        c.next();
        if (!c.isKeyword('TABLE')) return this.#query();
        c.next();
        return this.#createTable({ orReplace: true, external: false, requireOrReplace: true });
      case 'INSERT':
        return this.#insert();
      case 'MERGE':
        return this.#merge();
      case 'UPDATE':
        return this.#update();
      case 'DELETE':
        return this.#delete();
      case 'DROP':
        return this.#drop();
      case 'TRUNCATE':
        return this.#truncate();
      case 'DESCRIBE':
      case 'DESC':
        return this.#describe();
      case 'SHOW':
        return this.#show();
      case 'USE':
        return this.#use();
      case 'ALTER':
        return this.#alter();
      case 'RESTORE':
        return this.#restore();
      case 'OPTIMIZE':
        return this.#optimize();
      case 'VACUUM':
        return this.#vacuum();
      case 'SET':
        return this.#set();
      case 'RESET':
        return this.#reset();
      case 'EXPLAIN':
        return this.#explain();
      case 'COPY':
        if (c.isKeyword('INTO', 1))
          throw c.unsupported('COPY INTO', 'load files with INSERT INTO … SELECT * FROM read_parquet(…)');
        return this.#query();
      case 'ANALYZE':
        if (c.isKeyword('TABLE', 1)) {
          throw c.unsupported(
            'ANALYZE TABLE … COMPUTE STATISTICS',
            'Larder collects file statistics on every write',
          );
        }
        return this.#query();
      default:
        return this.#query();
    }
  }

  #query(): Statement {
    return { kind: 'query', ...this.#source, query: this.#source };
  }

  /**
   * Parse the rest of a statement about table `name`; when the name has one
   * part and the rest is not Larder syntax, keep the statement for DuckDB
   * (the name may be a DuckDB table) with the error deferred.
   */
  #forTable(name: QualifiedName, parse: () => Statement): Statement {
    try {
      return parse();
    } catch (error) {
      if (name.length === 1 && isLarderError(error)) {
        return { kind: 'query', ...this.#source, query: this.#source, deferredError: { name, error } };
      }
      throw error;
    }
  }

  // ---- CREATE

  #create(): Statement {
    const c = this.#c;
    c.expectKeyword('CREATE');
    const orReplace = c.acceptKeyword('OR', 'REPLACE');
    const global = c.acceptKeyword('GLOBAL');
    const temporary = c.acceptOneOf('TEMPORARY', 'TEMP') !== undefined;
    if (global && !temporary) throw c.error('expected TEMPORARY after GLOBAL');
    if (temporary) {
      if (c.isKeyword('VIEW')) {
        c.next();
        return this.#createView(orReplace, true);
      }
      if (c.isKeyword('FUNCTION')) throw c.unsupported('CREATE TEMPORARY FUNCTION');
      // DuckDB temporary tables, macros and sequences.
      return this.#query();
    }
    if (c.isKeyword('EXTERNAL') && c.isKeyword('TABLE', 1)) {
      c.next();
      c.next();
      return this.#createTable({ orReplace, external: true, requireOrReplace: false });
    }
    const what = c.peek()?.kind === 'word' ? c.peek()!.text.toUpperCase() : '';
    const refused = UNSUPPORTED_CREATE[what];
    if (refused !== undefined) throw c.unsupported(refused);
    switch (what) {
      case 'TABLE':
        c.next();
        return this.#createTable({ orReplace, external: false, requireOrReplace: false });
      case 'VIEW':
        c.next();
        return this.#createView(orReplace, false);
      case 'SCHEMA':
      case 'DATABASE':
        c.next();
        if (orReplace) throw c.unsupported(`CREATE OR REPLACE ${what}`);
        return this.#createSchema();
      case 'CATALOG': {
        c.next();
        if (orReplace) throw c.unsupported('CREATE OR REPLACE CATALOG');
        const ifNotExists = c.acceptKeyword('IF', 'NOT', 'EXISTS');
        const name = c.identifier('a catalog name');
        let comment: string | undefined;
        if (c.acceptKeyword('COMMENT')) comment = c.stringLiteral('the catalog comment');
        if (c.isKeyword('MANAGED') || c.isKeyword('USING'))
          throw c.unsupported(`CREATE CATALOG … ${c.peek()!.text.toUpperCase()}`);
        c.expectEnd();
        return {
          kind: 'createCatalog',
          ...this.#source,
          name,
          ifNotExists,
          ...(comment !== undefined ? { comment } : {}),
        };
      }
      default:
        return this.#query();
    }
  }

  #createSchema(): Statement {
    const c = this.#c;
    const ifNotExists = c.acceptKeyword('IF', 'NOT', 'EXISTS');
    const name = c.qualifiedName('a schema name');
    if (name.length > 2)
      throw c.error(`a schema name has at most two parts (catalog.schema), not ${name.length}`);
    let comment: string | undefined;
    while (!c.atEnd) {
      if (c.acceptKeyword('COMMENT')) comment = c.stringLiteral('the schema comment');
      else if (c.isKeywords('WITH', 'DBPROPERTIES') || c.isKeywords('WITH', 'PROPERTIES')) {
        throw c.unsupported('CREATE SCHEMA … WITH DBPROPERTIES');
      } else if (c.isKeyword('LOCATION') || c.isKeyword('MANAGED')) {
        throw c.unsupported(
          'CREATE SCHEMA … LOCATION',
          'schemas live under the project warehouse; give tables a LOCATION instead',
        );
      } else throw c.error('expected COMMENT or WITH DBPROPERTIES');
    }
    return {
      kind: 'createSchema',
      ...this.#source,
      name,
      ifNotExists,
      ...(comment !== undefined ? { comment } : {}),
    };
  }

  #createTable(options: { orReplace: boolean; external: boolean; requireOrReplace: boolean }): Statement {
    const c = this.#c;
    const ifNotExists = c.acceptKeyword('IF', 'NOT', 'EXISTS');
    if (ifNotExists && options.orReplace)
      throw c.error('OR REPLACE and IF NOT EXISTS cannot be used together');
    const name = c.qualifiedName('a table name');
    if (c.isKeyword('SHALLOW') || c.isKeyword('DEEP') || c.isKeyword('CLONE')) {
      return this.#cloneTable(name, options.orReplace, ifNotExists);
    }
    if (c.isKeyword('LIKE'))
      throw c.unsupported('CREATE TABLE … LIKE', 'use CREATE TABLE … AS SELECT * FROM src WHERE false');
    let columns: ColumnDefinition[] | undefined;
    let primaryKey: CreateTableStatement['primaryKey'];
    if (c.isPunct('(')) {
      const defined = this.#columnDefinitions();
      columns = defined.columns;
      primaryKey = defined.primaryKey;
    }
    const seen = new Set<string>();
    const clause = (label: string) => {
      if (seen.has(label)) throw c.error(`the ${label} clause appears twice`);
      seen.add(label);
    };
    let partitionedBy: string[] | undefined;
    let clusterBy: string[] | undefined;
    let location: string | undefined;
    let comment: string | undefined;
    let properties: Record<string, string> | undefined;
    let asQuery: string | undefined;
    while (!c.atEnd) {
      if (c.acceptKeyword('USING')) {
        clause('USING');
        const format = c.identifier('a table format');
        if (format.toUpperCase() !== 'DELTA') {
          throw new LarderError(
            'UNSUPPORTED_FEATURE',
            `CREATE TABLE … USING ${format.toUpperCase()} is not supported: Larder tables are Delta tables`,
            {
              feature: `USING ${format.toUpperCase()}`,
              hint: "write USING DELTA, or read the files in queries with read_parquet('…')",
            },
          );
        }
      } else if (c.acceptKeyword('PARTITIONED', 'BY')) {
        clause('PARTITIONED BY');
        partitionedBy = this.#columnNames('PARTITIONED BY');
      } else if (c.isKeywords('CLUSTER', 'BY')) {
        c.next();
        c.next();
        clause('CLUSTER BY');
        clusterBy = this.#clusterColumns();
      } else if (c.acceptKeyword('LOCATION')) {
        clause('LOCATION');
        location = c.stringLiteral('the table location');
      } else if (c.acceptKeyword('COMMENT')) {
        clause('COMMENT');
        comment = c.stringLiteral('the table comment');
      } else if (c.acceptKeyword('TBLPROPERTIES')) {
        clause('TBLPROPERTIES');
        properties = this.#properties();
      } else if (c.isKeyword('OPTIONS')) {
        throw c.unsupported('CREATE TABLE … OPTIONS', 'set table properties with TBLPROPERTIES');
      } else if (c.isKeywords('ROW', 'FORMAT') || c.isKeywords('STORED', 'AS')) {
        throw c.unsupported(
          `CREATE TABLE … ${c.peek()!.text.toUpperCase()} ${c.peek(1)!.text.toUpperCase()} (Hive format)`,
        );
      } else if (c.isKeywords('CLUSTERED', 'BY')) {
        throw c.unsupported('CREATE TABLE … CLUSTERED BY … INTO BUCKETS', 'use CLUSTER BY (cols)');
      } else if (c.acceptKeyword('AS')) {
        asQuery = c.rest('a query after AS');
        break;
      } else {
        throw c.error('expected USING, PARTITIONED BY, CLUSTER BY, LOCATION, COMMENT, TBLPROPERTIES or AS');
      }
    }
    if (asQuery !== undefined && columns !== undefined) {
      throw c.error('CREATE TABLE … AS takes its columns from the query; remove the column list');
    }
    if (asQuery === undefined && columns === undefined && location === undefined) {
      throw c.error('expected a column list, AS <query>, SHALLOW CLONE or a LOCATION holding a Delta table');
    }
    if (options.external && location === undefined) throw c.error('CREATE EXTERNAL TABLE needs a LOCATION');
    return {
      kind: 'createTable',
      ...this.#source,
      name,
      orReplace: options.orReplace,
      ifNotExists,
      external: options.external,
      ...(columns ? { columns } : {}),
      ...(partitionedBy ? { partitionedBy } : {}),
      ...(clusterBy ? { clusterBy } : {}),
      ...(location !== undefined ? { location } : {}),
      ...(comment !== undefined ? { comment } : {}),
      ...(properties ? { properties } : {}),
      ...(primaryKey ? { primaryKey } : {}),
      ...(asQuery !== undefined ? { asQuery } : {}),
    };
  }

  #cloneTable(name: QualifiedName, orReplace: boolean, ifNotExists: boolean): Statement {
    const c = this.#c;
    if (c.isKeyword('DEEP') || c.isKeyword('CLONE')) {
      throw c.unsupported(
        'DEEP CLONE',
        'use SHALLOW CLONE (the clone references the source files) or CREATE TABLE … AS SELECT',
      );
    }
    c.expectKeyword('SHALLOW', 'CLONE');
    const source = c.qualifiedName('the table to clone');
    const at = this.#timeTravel();
    let location: string | undefined;
    let comment: string | undefined;
    let properties: Record<string, string> | undefined;
    while (!c.atEnd) {
      if (c.acceptKeyword('LOCATION')) location = c.stringLiteral('the clone location');
      else if (c.acceptKeyword('COMMENT')) comment = c.stringLiteral('the clone comment');
      else if (c.acceptKeyword('TBLPROPERTIES')) properties = this.#properties();
      else throw c.error('expected VERSION AS OF, TIMESTAMP AS OF, TBLPROPERTIES, LOCATION or COMMENT');
    }
    return {
      kind: 'cloneTable',
      ...this.#source,
      name,
      source,
      orReplace,
      ifNotExists,
      ...(at ? { at } : {}),
      ...(location !== undefined ? { location } : {}),
      ...(comment !== undefined ? { comment } : {}),
      ...(properties ? { properties } : {}),
    };
  }

  /** `VERSION AS OF n` or `TIMESTAMP AS OF '…'`, if present. */
  #timeTravel(): TimeTravel | undefined {
    const c = this.#c;
    if (c.acceptKeyword('VERSION', 'AS', 'OF')) return { version: c.integer('the version') };
    if (c.acceptKeyword('TIMESTAMP', 'AS', 'OF')) return { timestamp: c.stringLiteral('the timestamp') };
    return undefined;
  }

  #columnDefinitions(): { columns: ColumnDefinition[]; primaryKey?: CreateTableStatement['primaryKey'] } {
    const c = this.#c;
    const columns: ColumnDefinition[] = [];
    let primaryKey: CreateTableStatement['primaryKey'];
    const setPrimaryKey = (pk: NonNullable<CreateTableStatement['primaryKey']>) => {
      if (primaryKey) throw c.error('the table has two PRIMARY KEY constraints');
      primaryKey = pk;
    };
    c.parenthesizedList(() => {
      let constraintName: string | undefined;
      if (c.acceptKeyword('CONSTRAINT')) constraintName = c.identifier('a constraint name');
      if (c.acceptKeyword('PRIMARY', 'KEY')) {
        let timeseries: string | undefined;
        const keys = c.parenthesizedList(() => {
          const key = c.identifier('a key column');
          if (c.acceptKeyword('TIMESERIES')) timeseries = key;
          return key;
        }, 'PRIMARY KEY columns');
        while (c.acceptOneOf('RELY', 'NORELY', 'ENABLE', 'DISABLE', 'NOVALIDATE', 'VALIDATE') !== undefined) {
          // Informational constraint options: nothing to enforce.
        }
        setPrimaryKey({
          ...(constraintName !== undefined ? { name: constraintName } : {}),
          columns: keys,
          ...(timeseries !== undefined ? { timeseries } : {}),
        });
        return;
      }
      if (c.isKeywords('FOREIGN', 'KEY')) throw c.unsupported('FOREIGN KEY constraints');
      if (c.isKeyword('CHECK')) throw c.unsupported('CHECK constraints');
      if (constraintName !== undefined) throw c.error('expected PRIMARY KEY after CONSTRAINT name');
      const name = c.identifier('a column name');
      const type = readSparkType(c);
      let nullable = true;
      let comment: string | undefined;
      for (;;) {
        if (c.acceptKeyword('NOT', 'NULL')) nullable = false;
        else if (c.acceptKeyword('NULL')) nullable = true;
        else if (c.acceptKeyword('COMMENT')) comment = c.stringLiteral('the column comment');
        else if (c.acceptKeyword('PRIMARY', 'KEY')) setPrimaryKey({ columns: [name] });
        else if (c.isKeyword('GENERATED')) {
          const identity = c.findTopLevelKeyword('IDENTITY') < c.findTopLevel((t) => t.text === ',');
          throw c.unsupported(
            identity
              ? 'identity columns (GENERATED … AS IDENTITY)'
              : 'generated columns (GENERATED ALWAYS AS)',
          );
        } else if (c.isKeyword('DEFAULT')) throw c.unsupported('column DEFAULT values');
        else if (c.isKeyword('MASK')) throw c.unsupported('column MASK');
        else break;
      }
      columns.push({ name, type, nullable, ...(comment !== undefined ? { comment } : {}) });
    }, 'column list');
    if (columns.length === 0) throw c.error('a table needs at least one column');
    return { columns, ...(primaryKey ? { primaryKey } : {}) };
  }

  /** `(a, b)` — a parenthesized list of column names. */
  #columnNames(what: string): string[] {
    const c = this.#c;
    const names = c.parenthesizedList(() => c.qualifiedName('a column name').join('.'), `${what} columns`);
    if (names.length === 0) throw c.error(`${what} needs at least one column`);
    return names;
  }

  /** After `CLUSTER BY`: `(cols)`, or `NONE` (empty list). */
  #clusterColumns(): string[] {
    const c = this.#c;
    if (c.acceptKeyword('NONE')) return [];
    if (c.isKeyword('AUTO'))
      throw c.unsupported('CLUSTER BY AUTO', 'name the clustering columns: CLUSTER BY (col, …)');
    return this.#columnNames('CLUSTER BY');
  }

  /** `('k' = 'v', k2 = 3, …)`. Keys are strings or dotted names; values strings, numbers or words. */
  #properties(): Record<string, string> {
    const c = this.#c;
    const properties: Record<string, string> = {};
    c.parenthesizedList(() => {
      const key = this.#propertyKey();
      c.acceptPunct('=');
      const token = c.peek();
      let value: string;
      if (token?.kind === 'string' || token?.kind === 'quoted') value = c.stringLiteral('the property value');
      else if (token?.kind === 'number' || token?.kind === 'word') {
        c.next();
        value = token.kind === 'word' ? token.text.toLowerCase() : token.text;
      } else if (token?.kind === 'punct' && token.text === '-' && c.peek(1)?.kind === 'number') {
        c.next();
        value = `-${c.next()!.text}`;
      } else throw c.error(`expected a value for property "${key}"`);
      properties[key] = value;
    }, 'property list');
    return properties;
  }

  #propertyKey(): string {
    const c = this.#c;
    const token = c.peek();
    if (token?.kind === 'string') return c.stringLiteral('a property key');
    return c.qualifiedName('a property key').join('.');
  }

  #createView(orReplace: boolean, temporary: boolean): Statement {
    const c = this.#c;
    const ifNotExists = c.acceptKeyword('IF', 'NOT', 'EXISTS');
    if (ifNotExists && orReplace) throw c.error('OR REPLACE and IF NOT EXISTS cannot be used together');
    const name = c.qualifiedName('a view name');
    let columns: string[] | undefined;
    if (c.isPunct('(')) {
      columns = c.parenthesizedList(() => {
        const column = c.identifier('a view column name');
        if (c.acceptKeyword('COMMENT')) c.stringLiteral('the column comment');
        return column;
      }, 'view column list');
    }
    let comment: string | undefined;
    while (!c.isKeyword('AS')) {
      if (c.atEnd) throw c.error('expected AS <query>');
      if (c.acceptKeyword('COMMENT')) comment = c.stringLiteral('the view comment');
      else if (c.acceptKeyword('TBLPROPERTIES')) this.#properties();
      else if (c.isKeyword('WITH')) throw c.unsupported('CREATE VIEW … WITH SCHEMA');
      else throw c.error('expected COMMENT, TBLPROPERTIES or AS');
    }
    c.expectKeyword('AS');
    const query = c.rest('the view query after AS');
    return {
      kind: 'createView',
      ...this.#source,
      name,
      orReplace,
      ifNotExists,
      temporary,
      ...(columns ? { columns } : {}),
      ...(comment !== undefined ? { comment } : {}),
      query,
    };
  }

  // ---- DML

  #insert(): Statement {
    const c = this.#c;
    c.expectKeyword('INSERT');
    if (c.isKeyword('OR')) return this.#query();
    const overwrite = c.acceptOneOf('INTO', 'OVERWRITE') === 'OVERWRITE';
    if (!overwrite && c.index === 1) throw c.error('expected INTO or OVERWRITE after INSERT');
    c.acceptKeyword('TABLE');
    const name = c.qualifiedName('the table to insert into');
    return this.#forTable(name, () => {
      if (c.isKeyword('PARTITION'))
        throw c.unsupported(
          'INSERT … PARTITION (…)',
          'filter with WHERE in the query; the partition values come from the rows',
        );
      if (c.isKeyword('REPLACE'))
        throw c.unsupported(
          `INSERT … REPLACE ${c.peek(1)?.text.toUpperCase() ?? ''}`.trim(),
          'DELETE the rows, then INSERT',
        );
      if (c.isKeywords('DEFAULT', 'VALUES')) throw c.unsupported('INSERT … DEFAULT VALUES');
      const byName = c.acceptKeyword('BY', 'NAME');
      let columns: string[] | undefined;
      if (
        !byName &&
        c.isPunct('(') &&
        !QUERY_STARTS.has(c.peek(1)?.text.toUpperCase() ?? '') &&
        !c.isPunct('(', 1)
      ) {
        columns = c.parenthesizedList(() => c.identifier('a column name'), 'insert column list');
      }
      const first = c.peek();
      if (
        !first ||
        !(QUERY_STARTS.has(first.text.toUpperCase()) || (first.kind === 'punct' && first.text === '('))
      ) {
        throw c.error('expected a query or VALUES');
      }
      if (c.findTopLevelKeyword('RETURNING') < c.tokens.length) throw c.unsupported('INSERT … RETURNING');
      const onConflict = c.findTopLevel(
        (t, i) => t.text.toUpperCase() === 'ON' && c.tokens[i + 1]?.text.toUpperCase() === 'CONFLICT',
      );
      if (onConflict < c.tokens.length) throw c.unsupported('INSERT … ON CONFLICT', 'use MERGE INTO');
      const query = c.rest('a query');
      return {
        kind: 'insert',
        ...this.#source,
        name,
        overwrite,
        byName,
        ...(columns ? { columns } : {}),
        query,
      };
    });
  }

  #merge(): Statement {
    const c = this.#c;
    c.expectKeyword('MERGE');
    if (c.isKeywords('WITH', 'SCHEMA', 'EVOLUTION')) {
      throw c.unsupported('MERGE WITH SCHEMA EVOLUTION', 'add the new columns to the table first');
    }
    c.expectKeyword('INTO');
    const target = c.qualifiedName('the target table');
    return this.#forTable(target, () => {
      const targetAlias = this.#alias(['USING']);
      c.expectKeyword('USING');
      let source: MergeStatement['source'];
      if (c.isPunct('(')) {
        const open = c.index;
        c.next();
        const close = c.findTopLevel((t) => t.kind === 'punct' && t.text === ')');
        if (close >= c.tokens.length) throw c.error('the source query is never closed with ")"');
        const query = c.takeSpan(close, 'a source query');
        c.expectPunct(')');
        if (c.index - open <= 2) throw c.error('expected a source query');
        source = { kind: 'query', query };
      } else {
        const start = c.index;
        const name = c.qualifiedName('the source table');
        if (c.isPunct('(')) {
          // A table function call (read_delta('…'), read_parquet('…')): keep it whole.
          c.next();
          const close = c.findTopLevel((t) => t.kind === 'punct' && t.text === ')');
          if (close >= c.tokens.length) throw c.error('the source call is never closed with ")"');
          c.index = close + 1;
        }
        this.#timeTravel();
        source = { kind: 'table', text: c.span(start, c.index), name };
      }
      const sourceAlias = this.#alias(['ON']);
      c.expectKeyword('ON');
      const on = c.takeSpan(c.findTopLevelKeyword('WHEN'), 'a merge condition after ON');
      const clauses: MergeClause[] = [];
      while (c.acceptKeyword('WHEN')) clauses.push(this.#mergeClause());
      if (clauses.length === 0) throw c.error('expected WHEN MATCHED or WHEN NOT MATCHED');
      c.expectEnd();
      return {
        kind: 'merge',
        ...this.#source,
        target,
        ...(targetAlias !== undefined ? { targetAlias } : {}),
        source,
        ...(sourceAlias !== undefined ? { sourceAlias } : {}),
        on,
        clauses,
      };
    });
  }

  /** An optional `[AS] alias` before one of the words `before`. */
  #alias(before: readonly string[]): string | undefined {
    const c = this.#c;
    if (c.acceptKeyword('AS')) return c.identifier('an alias');
    if (c.isIdentifier() && !before.some((w) => c.isKeyword(w))) return c.identifier('an alias');
    return undefined;
  }

  #mergeClause(): MergeClause {
    const c = this.#c;
    const notMatched = c.acceptKeyword('NOT');
    c.expectKeyword('MATCHED');
    if (notMatched && c.isKeywords('BY', 'SOURCE')) {
      throw c.unsupported(
        'WHEN NOT MATCHED BY SOURCE',
        'delete or update the target rows the source lacks with a separate DELETE/UPDATE',
      );
    }
    if (notMatched) c.acceptKeyword('BY', 'TARGET');
    let condition: string | undefined;
    if (c.acceptKeyword('AND'))
      condition = c.takeSpan(c.findTopLevelKeyword('THEN'), 'a clause condition after AND');
    c.expectKeyword('THEN');
    const stop = () => c.findTopLevelKeyword('WHEN');
    if (!notMatched) {
      if (c.acceptKeyword('DELETE'))
        return { when: 'matched', action: 'delete', ...(condition !== undefined ? { condition } : {}) };
      c.expectKeyword('UPDATE', 'SET');
      if (c.acceptPunct('*'))
        return { when: 'matched', action: 'update', ...(condition !== undefined ? { condition } : {}) };
      const set = this.#assignments(stop());
      return { when: 'matched', action: 'update', set, ...(condition !== undefined ? { condition } : {}) };
    }
    if (c.isKeyword('UPDATE') || c.isKeyword('DELETE')) throw c.error('WHEN NOT MATCHED can only INSERT');
    c.expectKeyword('INSERT');
    if (c.acceptPunct('*'))
      return { when: 'notMatched', action: 'insert', ...(condition !== undefined ? { condition } : {}) };
    const columns = c.parenthesizedList(() => c.qualifiedName('a column name'), 'insert column list');
    c.expectKeyword('VALUES');
    c.expectPunct('(', 'to open the VALUES list');
    const close = c.findTopLevel((t) => t.kind === 'punct' && t.text === ')');
    const values = this.#expressionList(close, 'VALUES');
    c.expectPunct(')', 'to close the VALUES list');
    if (values.length !== columns.length) {
      throw c.error(`INSERT names ${columns.length} columns but VALUES has ${values.length} expressions`);
    }
    return {
      when: 'notMatched',
      action: 'insert',
      columns,
      values,
      ...(condition !== undefined ? { condition } : {}),
    };
  }

  /** Comma-separated expressions up to token `end` (a trailing comma accepted). */
  #expressionList(end: number, what: string): string[] {
    const c = this.#c;
    const values: string[] = [];
    while (c.index < end) {
      const comma = Math.min(
        end,
        c.findTopLevel((t) => t.kind === 'punct' && t.text === ','),
      );
      values.push(c.takeSpan(comma, `an expression in ${what}`));
      if (c.index < end) c.expectPunct(',');
    }
    return values;
  }

  /** `col = expr, …` up to token `end`. */
  #assignments(end: number): Assignment[] {
    const c = this.#c;
    const set: Assignment[] = [];
    while (c.index < end) {
      const column = c.qualifiedName('a column to set');
      c.expectPunct('=', `after the column ${column.join('.')}`);
      const comma = Math.min(
        end,
        c.findTopLevel((t) => t.kind === 'punct' && t.text === ','),
      );
      const expression = c.takeSpan(comma, `a value for ${column.join('.')}`);
      set.push({ column, expression });
      if (c.index < end) {
        c.expectPunct(',');
        if (c.index >= end) break;
      }
    }
    if (set.length === 0) throw c.error('expected col = value after SET');
    return set;
  }

  #update(): Statement {
    const c = this.#c;
    c.expectKeyword('UPDATE');
    const name = c.qualifiedName('the table to update');
    return this.#forTable(name, () => {
      const alias = this.#alias(['SET']);
      c.expectKeyword('SET');
      const end = c.findTopLevelKeyword('WHERE', 'FROM', 'RETURNING');
      const set = this.#assignments(end);
      if (c.isKeyword('FROM'))
        throw c.unsupported('UPDATE … FROM', 'use MERGE INTO … USING … WHEN MATCHED THEN UPDATE');
      if (c.isKeyword('RETURNING')) throw c.unsupported('UPDATE … RETURNING');
      let where: string | undefined;
      if (c.acceptKeyword('WHERE')) where = c.rest('a condition after WHERE');
      return {
        kind: 'update',
        ...this.#source,
        name,
        set,
        ...(alias !== undefined ? { alias } : {}),
        ...(where !== undefined ? { where } : {}),
      };
    });
  }

  #delete(): Statement {
    const c = this.#c;
    c.expectKeyword('DELETE', 'FROM');
    const name = c.qualifiedName('the table to delete from');
    return this.#forTable(name, () => {
      const alias = this.#alias(['WHERE', 'USING', 'RETURNING']);
      if (c.isKeyword('USING'))
        throw c.unsupported('DELETE … USING', 'use MERGE INTO … WHEN MATCHED THEN DELETE');
      let where: string | undefined;
      if (c.acceptKeyword('WHERE')) {
        if (c.findTopLevelKeyword('RETURNING') < c.tokens.length) throw c.unsupported('DELETE … RETURNING');
        where = c.rest('a condition after WHERE');
      }
      c.expectEnd();
      return {
        kind: 'delete',
        ...this.#source,
        name,
        ...(alias !== undefined ? { alias } : {}),
        ...(where !== undefined ? { where } : {}),
      };
    });
  }

  #drop(): Statement {
    const c = this.#c;
    c.expectKeyword('DROP');
    if (c.acceptKeyword('TABLE')) {
      const ifExists = c.acceptKeyword('IF', 'EXISTS');
      const name = c.qualifiedName('the table to drop');
      return this.#forTable(name, () => {
        c.acceptKeyword('PURGE');
        c.expectEnd();
        return { kind: 'dropTable', ...this.#source, name, ifExists };
      });
    }
    if (c.acceptKeyword('VIEW') || c.acceptKeyword('TEMPORARY', 'VIEW') || c.acceptKeyword('TEMP', 'VIEW')) {
      const ifExists = c.acceptKeyword('IF', 'EXISTS');
      const name = c.qualifiedName('the view to drop');
      return this.#forTable(name, () => {
        c.expectEnd();
        return { kind: 'dropView', ...this.#source, name, ifExists };
      });
    }
    if (c.isKeyword('SCHEMA') || c.isKeyword('DATABASE')) {
      throw c.unsupported('DROP SCHEMA', 'drop its tables and views one by one');
    }
    if (c.isKeyword('CATALOG'))
      throw c.unsupported('DROP CATALOG', 'drop its schemas with DROP SCHEMA … CASCADE');
    return this.#query();
  }

  #truncate(): Statement {
    const c = this.#c;
    c.expectKeyword('TRUNCATE');
    c.acceptKeyword('TABLE');
    const name = c.qualifiedName('the table to truncate');
    return this.#forTable(name, () => {
      if (c.isKeyword('PARTITION'))
        throw c.unsupported('TRUNCATE TABLE … PARTITION', 'use DELETE FROM … WHERE');
      c.expectEnd();
      return { kind: 'truncate', ...this.#source, name };
    });
  }

  // ---- DESCRIBE, SHOW, USE

  #describe(): Statement {
    const c = this.#c;
    c.next();
    if (c.acceptKeyword('QUERY')) {
      const from = c.peek()?.start ?? 0;
      c.rest('a query');
      const to = c.tokens.at(-1)!.end;
      const query = new SqlTokenBuilder()
        .write('DESCRIBE ')
        .pushAll(this.#source.tokens.filter((t) => t.start >= from && t.end <= to))
        .build();
      return { kind: 'query', ...this.#source, query };
    }
    const first = c.peek();
    if (
      !first ||
      (QUERY_STARTS.has(first.text.toUpperCase()) && !c.isKeyword('TABLE')) ||
      first.text === '('
    ) {
      return this.#query();
    }
    if (c.acceptKeyword('DETAIL')) {
      const name = c.qualifiedName('a table name');
      c.expectEnd();
      return { kind: 'describeDetail', ...this.#source, name };
    }
    if (c.acceptKeyword('HISTORY')) {
      const name = c.qualifiedName('a table name');
      let limit: number | undefined;
      if (c.acceptKeyword('LIMIT')) limit = c.integer('the history limit');
      c.expectEnd();
      return { kind: 'describeHistory', ...this.#source, name, ...(limit !== undefined ? { limit } : {}) };
    }
    if (
      c.isKeyword('SCHEMA') ||
      c.isKeyword('DATABASE') ||
      c.isKeyword('CATALOG') ||
      c.isKeyword('FUNCTION')
    ) {
      throw c.unsupported(`DESCRIBE ${c.peek()!.text.toUpperCase()}`, 'use SHOW SCHEMAS or SHOW TABLES');
    }
    const explicitTable = c.acceptKeyword('TABLE');
    const extended = c.acceptOneOf('EXTENDED', 'FORMATTED') !== undefined;
    const name = c.qualifiedName('a table name');
    if (!explicitTable && !extended && name.length === 1 && !c.atEnd) return this.#query();
    return this.#forTable(name, () => {
      if (!c.atEnd)
        throw c.unsupported('DESCRIBE TABLE … <column>', 'DESCRIBE the table and read the column row');
      return { kind: 'describeTable', ...this.#source, name, extended };
    });
  }

  #show(): Statement {
    const c = this.#c;
    c.expectKeyword('SHOW');
    const like = (): { like?: string } => {
      if (c.acceptKeyword('LIKE')) return { like: c.stringLiteral('a LIKE pattern') };
      if (c.peek()?.kind === 'string') return { like: c.stringLiteral('a pattern') };
      return {};
    };
    if (c.acceptKeyword('SCHEMAS') || c.acceptKeyword('DATABASES')) {
      let catalog: string | undefined;
      if (c.acceptOneOf('IN', 'FROM')) catalog = c.identifier('a catalog name');
      const pattern = like();
      c.expectEnd();
      return {
        kind: 'showSchemas',
        ...this.#source,
        ...(catalog !== undefined ? { catalog } : {}),
        ...pattern,
      };
    }
    if (c.acceptKeyword('CATALOGS')) {
      like();
      c.expectEnd();
      return { kind: 'showCatalogs', ...this.#source };
    }
    if (c.isKeyword('TABLES') || c.isKeyword('VIEWS')) {
      const views = c.next()!.text.toUpperCase() === 'VIEWS';
      let schema: string[] | undefined;
      if (c.acceptOneOf('IN', 'FROM')) schema = c.qualifiedName('a schema name');
      const pattern = like();
      c.expectEnd();
      return {
        kind: views ? 'showViews' : 'showTables',
        ...this.#source,
        ...(schema ? { schema } : {}),
        ...pattern,
      };
    }
    if (c.acceptKeyword('TBLPROPERTIES')) {
      const name = c.qualifiedName('a table name');
      let key: string | undefined;
      if (c.isPunct('(')) {
        c.next();
        key = this.#propertyKey();
        c.expectPunct(')');
      }
      c.expectEnd();
      return { kind: 'showTblProperties', ...this.#source, name, ...(key !== undefined ? { key } : {}) };
    }
    for (const [words, construct] of [
      [['CREATE', 'TABLE'], 'SHOW CREATE TABLE'],
      [['PARTITIONS'], 'SHOW PARTITIONS'],
      [['GRANTS'], 'SHOW GRANTS'],
      [['GRANT'], 'SHOW GRANTS'],
      [['FUNCTIONS'], 'SHOW FUNCTIONS'],
      [['USER', 'FUNCTIONS'], 'SHOW USER FUNCTIONS'],
      [['SHARES'], 'SHOW SHARES'],
      [['VOLUMES'], 'SHOW VOLUMES'],
    ] as const) {
      if (c.isKeywords(...words)) throw c.unsupported(construct);
    }
    return this.#query();
  }

  #use(): Statement {
    const c = this.#c;
    c.expectKeyword('USE');
    let target: 'catalog' | 'schema' | 'either' = 'either';
    if (c.acceptKeyword('CATALOG')) target = 'catalog';
    else if (c.acceptKeyword('SCHEMA') || c.acceptKeyword('DATABASE')) target = 'schema';
    const name = c.qualifiedName(target === 'catalog' ? 'a catalog name' : 'a schema name');
    c.expectEnd();
    if (target === 'catalog' && name.length !== 1) throw c.error('USE CATALOG takes a one-part catalog name');
    if (name.length > 2) throw c.error('USE takes a catalog or a catalog.schema name');
    return { kind: 'use', ...this.#source, target, name };
  }

  // ---- ALTER

  #alter(): Statement {
    const c = this.#c;
    c.expectKeyword('ALTER');
    if (!c.acceptKeyword('TABLE')) {
      const what = c.peek()?.text.toUpperCase() ?? '';
      if (['VIEW', 'SCHEMA', 'DATABASE', 'CATALOG', 'SHARE', 'VOLUME'].includes(what))
        throw c.unsupported(`ALTER ${what}`);
      return this.#query();
    }
    const name = c.qualifiedName('the table to alter');
    return this.#forTable(name, () => {
      if (c.acceptKeyword('SET', 'TBLPROPERTIES')) {
        const properties = this.#properties();
        c.expectEnd();
        return { kind: 'alterSetProperties', ...this.#source, name, properties };
      }
      if (c.acceptKeyword('UNSET', 'TBLPROPERTIES')) {
        const ifExists = c.acceptKeyword('IF', 'EXISTS');
        const keys = c.parenthesizedList(() => this.#propertyKey(), 'property keys');
        c.expectEnd();
        return { kind: 'alterUnsetProperties', ...this.#source, name, keys, ifExists };
      }
      if (c.acceptKeyword('CLUSTER', 'BY')) {
        const columns = this.#clusterColumns();
        c.expectEnd();
        return { kind: 'alterClusterBy', ...this.#source, name, columns };
      }
      const words = c.tokens
        .slice(c.index, c.index + 2)
        .filter((t) => t.kind === 'word')
        .map((t) => t.text.toUpperCase());
      if (words.length === 0) throw c.error('expected SET TBLPROPERTIES, UNSET TBLPROPERTIES or CLUSTER BY');
      throw c.unsupported(
        `ALTER TABLE … ${words.join(' ')}`,
        'Larder alters tables with SET/UNSET TBLPROPERTIES and CLUSTER BY',
      );
    });
  }

  // ---- Delta maintenance

  #restore(): Statement {
    const c = this.#c;
    c.expectKeyword('RESTORE');
    c.acceptKeyword('TABLE');
    const name = c.qualifiedName('the table to restore');
    c.acceptKeyword('TO');
    const to = this.#timeTravel();
    if (!to) throw c.error("expected VERSION AS OF n or TIMESTAMP AS OF '…'");
    c.expectEnd();
    return { kind: 'restore', ...this.#source, name, to };
  }

  #optimize(): Statement {
    const c = this.#c;
    c.expectKeyword('OPTIMIZE');
    const name = c.qualifiedName('the table to optimize');
    let where: string | undefined;
    let zorderBy: string[] | undefined;
    if (c.acceptKeyword('WHERE'))
      where = c.takeSpan(c.findTopLevelKeyword('ZORDER', 'FULL'), 'a condition after WHERE');
    if (c.acceptKeyword('ZORDER', 'BY')) {
      zorderBy = c.isPunct('(')
        ? this.#columnNames('ZORDER BY')
        : [c.qualifiedName('a ZORDER BY column').join('.')];
    }
    c.acceptKeyword('FULL');
    c.expectEnd();
    return {
      kind: 'optimize',
      ...this.#source,
      name,
      ...(where !== undefined ? { where } : {}),
      ...(zorderBy ? { zorderBy } : {}),
    };
  }

  #vacuum(): Statement {
    const c = this.#c;
    c.expectKeyword('VACUUM');
    if (c.atEnd || c.isKeyword('ANALYZE') || c.isKeyword('FULL') || c.isKeyword('VERBOSE'))
      return this.#query();
    const name = c.qualifiedName('the table to vacuum');
    return this.#forTable(name, () => {
      if (c.isKeyword('LITE')) throw c.unsupported('VACUUM … LITE');
      c.acceptKeyword('FULL');
      let retainHours: number | undefined;
      if (c.acceptKeyword('RETAIN')) {
        retainHours = c.number('the retention');
        c.expectKeyword('HOURS');
      }
      const dryRun = c.acceptKeyword('DRY', 'RUN');
      c.expectEnd();
      return {
        kind: 'vacuum',
        ...this.#source,
        name,
        dryRun,
        ...(retainHours !== undefined ? { retainHours } : {}),
      };
    });
  }

  // ---- SET, RESET, EXPLAIN

  #set(): Statement {
    const c = this.#c;
    c.expectKeyword('SET');
    if (c.atEnd || (c.isPunct('-') && c.isKeyword('v', 1) && c.tokens.length === 3)) {
      return { kind: 'set', ...this.#source };
    }
    if (c.isKeyword('GLOBAL') || c.isKeyword('SESSION') || c.isKeyword('LOCAL') || c.isKeyword('VARIABLE')) {
      return this.#query();
    }
    if (c.acceptKeyword('TIME', 'ZONE')) {
      const value = c.rest('a time zone');
      return { kind: 'set', ...this.#source, key: 'spark.sql.session.timeZone', value: unquote(value) };
    }
    const equals = c.findTopLevel((t) => t.kind === 'punct' && t.text === '=');
    const keyEnd = equals < c.tokens.length ? equals : c.findTopLevelKeyword('TO');
    const key = unquote(c.takeSpan(keyEnd, 'a setting name'));
    if (c.atEnd) return { kind: 'set', ...this.#source, key };
    c.next();
    const value = c.atEnd ? '' : unquote(c.rest('a value'));
    return { kind: 'set', ...this.#source, key, value };
  }

  #reset(): Statement {
    const c = this.#c;
    c.expectKeyword('RESET');
    if (c.atEnd) return { kind: 'reset', ...this.#source };
    if (c.isKeyword('GLOBAL') || c.isKeyword('SESSION') || c.isKeyword('LOCAL') || c.isKeyword('VARIABLE')) {
      return this.#query();
    }
    return { kind: 'reset', ...this.#source, key: unquote(c.rest('a setting name')) };
  }

  #explain(): Statement {
    const c = this.#c;
    c.expectKeyword('EXPLAIN');
    const mode = c.acceptOneOf('EXTENDED', 'COST', 'FORMATTED', 'CODEGEN', 'ANALYZE');
    const query = c.rest('a query to explain');
    return {
      kind: 'explain',
      ...this.#source,
      query,
      ...(mode !== undefined ? { mode: mode.toLowerCase() } : {}),
    };
  }
}

/** A setting name or value as written: quotes removed, spaces around dots dropped. */
function unquote(text: string): string {
  const trimmed = text.trim();
  if (/^'.*'$/s.test(trimmed)) return trimmed.slice(1, -1).replaceAll("''", "'");
  if (/^".*"$/s.test(trimmed)) return trimmed.slice(1, -1).replaceAll('""', '"');
  return trimmed.replace(/\s*\.\s*/g, '.');
}
