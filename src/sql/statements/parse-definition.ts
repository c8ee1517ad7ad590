import { LarderError } from '../../errors.js';
import {
  parseClusterColumns,
  parseColumnNames,
  parseProperties,
  parsePropertyKey,
  parseTimeTravel,
} from './parse-clauses.js';
import type { ParseContext } from './parse-context.js';
import { readSparkType } from './spark-types.js';
import type { ColumnDefinition, CreateTableStatement, QualifiedName, Statement } from './statement.js';

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

export function parseCreate(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('CREATE');
  const orReplace = c.acceptKeyword('OR', 'REPLACE');
  const global = c.acceptKeyword('GLOBAL');
  const temporary = c.acceptOneOf('TEMPORARY', 'TEMP') !== undefined;
  if (global && !temporary) throw c.error('expected TEMPORARY after GLOBAL');
  if (temporary) {
    if (c.isKeyword('VIEW')) {
      c.next();
      return parseCreateView(p, orReplace, true);
    }
    if (c.isKeyword('FUNCTION')) throw c.unsupported('CREATE TEMPORARY FUNCTION');
    // DuckDB temporary tables, macros and sequences.
    return p.query();
  }
  if (c.isKeyword('EXTERNAL') && c.isKeyword('TABLE', 1)) {
    c.next();
    c.next();
    return parseCreateTable(p, { orReplace, external: true, requireOrReplace: false });
  }
  const what = c.peek()?.kind === 'word' ? c.peek()!.text.toUpperCase() : '';
  const refused = UNSUPPORTED_CREATE[what];
  if (refused !== undefined) throw c.unsupported(refused);
  switch (what) {
    case 'TABLE':
      c.next();
      return parseCreateTable(p, { orReplace, external: false, requireOrReplace: false });
    case 'VIEW':
      c.next();
      return parseCreateView(p, orReplace, false);
    case 'SCHEMA':
    case 'DATABASE':
      c.next();
      if (orReplace) throw c.unsupported(`CREATE OR REPLACE ${what}`);
      return parseCreateSchema(p);
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
        ...p.source,
        name,
        ifNotExists,
        ...(comment !== undefined ? { comment } : {}),
      };
    }
    default:
      return p.query();
  }
}

function parseCreateSchema(p: ParseContext): Statement {
  const c = p.c;
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
    ...p.source,
    name,
    ifNotExists,
    ...(comment !== undefined ? { comment } : {}),
  };
}

export function parseCreateTable(
  p: ParseContext,
  options: { orReplace: boolean; external: boolean; requireOrReplace: boolean },
): Statement {
  const c = p.c;
  const ifNotExists = c.acceptKeyword('IF', 'NOT', 'EXISTS');
  if (ifNotExists && options.orReplace) throw c.error('OR REPLACE and IF NOT EXISTS cannot be used together');
  const name = c.qualifiedName('a table name');
  if (c.isKeyword('SHALLOW') || c.isKeyword('DEEP') || c.isKeyword('CLONE')) {
    return parseCloneTable(p, name, options.orReplace, ifNotExists);
  }
  if (c.isKeyword('LIKE'))
    throw c.unsupported('CREATE TABLE … LIKE', 'use CREATE TABLE … AS SELECT * FROM src WHERE false');
  let columns: ColumnDefinition[] | undefined;
  let primaryKey: CreateTableStatement['primaryKey'];
  if (c.isPunct('(')) {
    const defined = parseColumnDefinitions(p);
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
      partitionedBy = parseColumnNames(c, 'PARTITIONED BY');
    } else if (c.isKeywords('CLUSTER', 'BY')) {
      c.next();
      c.next();
      clause('CLUSTER BY');
      clusterBy = parseClusterColumns(c);
    } else if (c.acceptKeyword('LOCATION')) {
      clause('LOCATION');
      location = c.stringLiteral('the table location');
    } else if (c.acceptKeyword('COMMENT')) {
      clause('COMMENT');
      comment = c.stringLiteral('the table comment');
    } else if (c.acceptKeyword('TBLPROPERTIES')) {
      clause('TBLPROPERTIES');
      properties = parseProperties(c);
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
    ...p.source,
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

function parseCloneTable(
  p: ParseContext,
  name: QualifiedName,
  orReplace: boolean,
  ifNotExists: boolean,
): Statement {
  const c = p.c;
  if (c.isKeyword('DEEP') || c.isKeyword('CLONE')) {
    throw c.unsupported(
      'DEEP CLONE',
      'use SHALLOW CLONE (the clone references the source files) or CREATE TABLE … AS SELECT',
    );
  }
  c.expectKeyword('SHALLOW', 'CLONE');
  const source = c.qualifiedName('the table to clone');
  const at = parseTimeTravel(c);
  let location: string | undefined;
  let comment: string | undefined;
  let properties: Record<string, string> | undefined;
  while (!c.atEnd) {
    if (c.acceptKeyword('LOCATION')) location = c.stringLiteral('the clone location');
    else if (c.acceptKeyword('COMMENT')) comment = c.stringLiteral('the clone comment');
    else if (c.acceptKeyword('TBLPROPERTIES')) properties = parseProperties(c);
    else throw c.error('expected VERSION AS OF, TIMESTAMP AS OF, TBLPROPERTIES, LOCATION or COMMENT');
  }
  return {
    kind: 'cloneTable',
    ...p.source,
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

function parseColumnDefinitions(p: ParseContext): {
  columns: ColumnDefinition[];
  primaryKey?: CreateTableStatement['primaryKey'];
} {
  const c = p.c;
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
          identity ? 'identity columns (GENERATED … AS IDENTITY)' : 'generated columns (GENERATED ALWAYS AS)',
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

function parseCreateView(p: ParseContext, orReplace: boolean, temporary: boolean): Statement {
  const c = p.c;
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
    else if (c.acceptKeyword('TBLPROPERTIES')) parseProperties(c);
    else if (c.isKeyword('WITH')) throw c.unsupported('CREATE VIEW … WITH SCHEMA');
    else throw c.error('expected COMMENT, TBLPROPERTIES or AS');
  }
  c.expectKeyword('AS');
  const query = c.rest('the view query after AS');
  return {
    kind: 'createView',
    ...p.source,
    name,
    orReplace,
    ifNotExists,
    temporary,
    ...(columns ? { columns } : {}),
    ...(comment !== undefined ? { comment } : {}),
    query,
  };
}

export function parseDrop(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('DROP');
  if (c.acceptKeyword('TABLE')) {
    const ifExists = c.acceptKeyword('IF', 'EXISTS');
    const name = c.qualifiedName('the table to drop');
    return p.forTable(name, () => {
      c.acceptKeyword('PURGE');
      c.expectEnd();
      return { kind: 'dropTable', ...p.source, name, ifExists };
    });
  }
  if (c.acceptKeyword('VIEW') || c.acceptKeyword('TEMPORARY', 'VIEW') || c.acceptKeyword('TEMP', 'VIEW')) {
    const ifExists = c.acceptKeyword('IF', 'EXISTS');
    const name = c.qualifiedName('the view to drop');
    return p.forTable(name, () => {
      c.expectEnd();
      return { kind: 'dropView', ...p.source, name, ifExists };
    });
  }
  if (c.isKeyword('SCHEMA') || c.isKeyword('DATABASE')) {
    throw c.unsupported('DROP SCHEMA', 'drop its tables and views one by one');
  }
  if (c.isKeyword('CATALOG'))
    throw c.unsupported('DROP CATALOG', 'drop its schemas with DROP SCHEMA … CASCADE');
  return p.query();
}

export function parseAlter(p: ParseContext): Statement {
  const c = p.c;
  c.expectKeyword('ALTER');
  if (!c.acceptKeyword('TABLE')) {
    const what = c.peek()?.text.toUpperCase() ?? '';
    if (['VIEW', 'SCHEMA', 'DATABASE', 'CATALOG', 'SHARE', 'VOLUME'].includes(what))
      throw c.unsupported(`ALTER ${what}`);
    return p.query();
  }
  const name = c.qualifiedName('the table to alter');
  return p.forTable(name, () => {
    if (c.acceptKeyword('SET', 'TBLPROPERTIES')) {
      const properties = parseProperties(c);
      c.expectEnd();
      return { kind: 'alterSetProperties', ...p.source, name, properties };
    }
    if (c.acceptKeyword('UNSET', 'TBLPROPERTIES')) {
      const ifExists = c.acceptKeyword('IF', 'EXISTS');
      const keys = c.parenthesizedList(() => parsePropertyKey(c), 'property keys');
      c.expectEnd();
      return { kind: 'alterUnsetProperties', ...p.source, name, keys, ifExists };
    }
    if (c.acceptKeyword('CLUSTER', 'BY')) {
      const columns = parseClusterColumns(c);
      c.expectEnd();
      return { kind: 'alterClusterBy', ...p.source, name, columns };
    }
    const changeColumn = parseChangeColumnType(p, name);
    if (changeColumn) return changeColumn;
    const words = c.tokens
      .slice(c.index, c.index + 2)
      .filter((t) => t.kind === 'word')
      .map((t) => t.text.toUpperCase());
    if (words.length === 0) throw c.error('expected SET TBLPROPERTIES, UNSET TBLPROPERTIES or CLUSTER BY');
    throw c.unsupported(
      `ALTER TABLE … ${words.join(' ')}`,
      'Larder alters tables with SET/UNSET TBLPROPERTIES, CLUSTER BY and ALTER COLUMN … TYPE',
    );
  });
}

/**
 * `{ALTER | CHANGE} [COLUMN] c TYPE t`, or Hive's `CHANGE [COLUMN] c c t` (same name); undefined
 * when the statement is neither. Other column changes are refused by name.
 */
function parseChangeColumnType(p: ParseContext, name: QualifiedName): Statement | undefined {
  const c = p.c;
  const verb = c.acceptOneOf('ALTER', 'CHANGE');
  if (!verb) return undefined;
  c.acceptKeyword('COLUMN');
  const column = c.identifier('the column to change');
  if (!c.acceptKeyword('TYPE')) {
    if (verb.toUpperCase() === 'CHANGE' && c.isIdentifier()) {
      const newName = c.identifier('the new column name');
      if (newName.toLowerCase() !== column.toLowerCase()) {
        throw c.unsupported('renaming a column', 'Larder changes only the type of a column');
      }
    } else {
      const words = c.tokens
        .slice(c.index, c.index + 2)
        .filter((t) => t.kind === 'word')
        .map((t) => t.text.toUpperCase());
      throw c.unsupported(
        `ALTER TABLE … ${verb.toUpperCase()} COLUMN … ${words.join(' ')}`.trimEnd(),
        'Larder changes a column with ALTER COLUMN c TYPE t (type widening)',
      );
    }
  }
  const type = readSparkType(c);
  c.expectEnd();
  return { kind: 'alterColumnType', ...p.source, name, column, type };
}
