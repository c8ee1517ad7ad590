/**
 * Validation of a loaded `larder.config.ts`, in one place. It collects every
 * problem (wrong value types, unknown fields with "did you mean", names,
 * source shapes, cross-references between sources, entities, feature
 * tables, pipelines and jobs, incremental keys, cron schedules) and throws
 * one `CONFIG_INVALID` listing them all, each as
 * `<file>: <object> › <field>: <problem>`.
 *
 * Invariants:
 * - it reads nothing but the value: no files, no catalog (the checks that
 *   need those, such as source paths and pipeline output columns, are
 *   `larder plan`'s);
 * - a config that passes is returned as a deep-frozen copy in which every
 *   feature table has `primaryKeys`: the entity's keys when none were given,
 *   with the timeseries column appended when it was not listed.
 */
import { relative } from 'node:path';
import { LarderError } from '../errors.js';
import { cronScheduleProblem } from './cron-schedule.js';
import type { LarderConfig } from './define-config.js';
import { didYouMeanSuffix } from './did-you-mean.js';

/** One problem of a config: the object (`pipelines.customer_features`), its field (`sources[1]`) and what is wrong. */
export interface ConfigProblem {
  readonly object: string;
  readonly field: string;
  readonly problem: string;
  /** What to do about it, when there is more to say than the problem. */
  readonly hint?: string;
}

/** Where the config came from, for messages. */
export interface ValidateConfigOptions {
  /** The config file (absolute). */
  readonly file: string;
  /** The project folder; messages name the file relative to it. */
  readonly projectDir?: string;
}

/** Short names: sources, entities, pipelines, jobs. */
export const SHORT_NAME = /^[a-z_][a-z0-9_]*$/;
/** Feature table names: `catalog.schema.table`, lower-case. */
export const FEATURE_TABLE_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

const TOP_LEVEL_FIELDS = [
  'project',
  'catalog',
  'warehouse',
  'sources',
  'entities',
  'featureTables',
  'pipelines',
  'jobs',
];
const SOURCE_TYPES = ['delta', 'csv', 'parquet', 'postgres'];
const SOURCE_FIELDS: Record<string, readonly string[]> = {
  delta: ['type', 'description', 'changeColumn', 'table', 'path'],
  csv: ['type', 'description', 'changeColumn', 'path', 'options'],
  parquet: ['type', 'description', 'changeColumn', 'path', 'options'],
  postgres: ['type', 'description', 'changeColumn', 'url', 'table'],
};
const ENTITY_FIELDS = ['keys', 'description'];
const FEATURE_TABLE_FIELDS = [
  'entity',
  'primaryKeys',
  'timeseriesColumn',
  'partitionColumns',
  'clusterBy',
  'description',
  'owner',
  'tags',
  'features',
  'properties',
];
const FEATURE_FIELDS = ['type', 'description'];
const PIPELINE_FIELDS = ['output', 'sources', 'sql', 'incremental', 'params', 'description'];
const INCREMENTAL_FIELDS = ['key', 'sources'];
const JOB_FIELDS = ['schedule', 'pipelines', 'paused'];
const SIMPLE_TYPES = [
  'boolean',
  'byte',
  'short',
  'integer',
  'long',
  'float',
  'double',
  'string',
  'binary',
  'date',
  'timestamp',
  'timestamp_ntz',
];

/**
 * Validate a config value; throws `CONFIG_INVALID` listing every problem
 * (its context holds `file`, the first problem's `object` and `field`, and
 * `problems`). Returns the normalised, deep-frozen config.
 *
 * @example
 * const config = validateConfig(imported, { file: '/app/larder.config.ts', projectDir: '/app' });
 * config.featureTables?.['ml.churn_features.customer_features']?.primaryKeys; // ['customer_id']
 */
export function validateConfig(value: unknown, options: ValidateConfigOptions): LarderConfig {
  const problems = findConfigProblems(value);
  if (problems.length > 0) throw configInvalid(problems, options);
  return normalizeConfig(value as LarderConfig);
}

/** The `CONFIG_INVALID` error for `problems` (at least one) of the config in `options.file`. */
export function configInvalid(
  problems: readonly ConfigProblem[],
  options: ValidateConfigOptions,
): LarderError {
  const shown = options.projectDir
    ? relative(options.projectDir, options.file) || options.file
    : options.file;
  const lines = problems.map((p) => formatConfigProblem(p, shown));
  const message =
    lines.length === 1
      ? lines[0]!
      : `${lines.length} problems in ${shown}:\n${lines.map((line) => `  ${line}`).join('\n')}`;
  const first = problems[0]!;
  return new LarderError('CONFIG_INVALID', message, {
    file: options.file,
    object: first.object,
    field: first.field,
    problems,
  });
}

/** `<file>: <object> › <field>: <problem>` (with the hint in parentheses). */
export function formatConfigProblem(problem: ConfigProblem, file: string): string {
  const hint = problem.hint === undefined ? '' : ` (${problem.hint})`;
  return `${file}: ${problem.object} › ${problem.field}: ${problem.problem}${hint}`;
}

/** Every problem of a config value, in the order of the config's sections; empty when it is valid. */
export function findConfigProblems(value: unknown): ConfigProblem[] {
  const p = new Problems();
  if (!isRecord(value)) {
    p.add('config', 'default export', `must be an object (defineConfig({ … })), got ${typeName(value)}`);
    return p.list;
  }
  unknownFields(p, value, TOP_LEVEL_FIELDS, 'config', '');
  checkCatalog(p, value);
  if (value.warehouse !== undefined) nonEmptyString(p, value.warehouse, 'config', 'warehouse');
  if (value.project !== undefined) nonEmptyString(p, value.project, 'config', 'project');

  // A section that is not an object is reported once; references into it are not checked.
  const sources = section(p, value, 'sources');
  const entities = section(p, value, 'entities');
  const tables = section(p, value, 'featureTables');
  const pipelines = section(p, value, 'pipelines');
  const jobs = section(p, value, 'jobs');

  for (const [name, source] of Object.entries(sources ?? {})) checkSource(p, name, source);
  const entityKeys = new Map<string, readonly string[] | undefined>();
  for (const [name, entity] of Object.entries(entities ?? {}))
    entityKeys.set(name, checkEntity(p, name, entity));
  const keys = new Map<string, readonly string[]>();
  const written = new Set<unknown>(
    Object.values(pipelines ?? {}).map((pipeline) => isRecord(pipeline) && pipeline.output),
  );
  for (const [name, table] of Object.entries(tables ?? {})) {
    const resolved = checkFeatureTable(p, name, table, entities && entityKeys, written.has(name));
    if (resolved) keys.set(name, resolved);
  }
  const writers = new Map<string, string>();
  for (const [name, pipeline] of Object.entries(pipelines ?? {})) {
    checkPipeline(p, name, pipeline, { sources, tables, keys, writers });
  }
  for (const [name, job] of Object.entries(jobs ?? {})) checkJob(p, name, job, pipelines);
  return p.list;
}

class Problems {
  readonly list: ConfigProblem[] = [];
  add(object: string, field: string, problem: string): void {
    this.list.push(Object.freeze({ object, field, problem }));
  }
}

type Dict = Record<string, unknown>;

function isRecord(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'undefined') return 'nothing';
  return `${typeof value === 'function' ? 'a' : 'the'} ${typeof value}${typeof value === 'function' ? '' : ` ${String(value)}`}`;
}

/**
 * How messages name a config object: `pipelines.customer_features`, or
 * `featureTables["ml.a.b"]` for names that are not identifiers.
 *
 * @example
 * configObjectName('featureTables', 'ml.churn_features.customer_features'); // 'featureTables["ml.churn_features.customer_features"]'
 */
export function configObjectName(section: string, name: string): string {
  return SHORT_NAME.test(name) ? `${section}.${name}` : `${section}[${JSON.stringify(name)}]`;
}

function join(prefix: string, field: string): string {
  return prefix === '' ? field : `${prefix}.${field}`;
}

function unknownFields(
  p: Problems,
  value: Dict,
  known: readonly string[],
  object: string,
  prefix: string,
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      p.add(object, join(prefix, key), `unknown field${didYouMeanSuffix(key, known)}`);
    }
  }
}

/** The section's objects by name; undefined when the section is not an object (reported). */
function section(p: Problems, config: Dict, key: string): Dict | undefined {
  const value = config[key];
  if (value === undefined) return {};
  if (!isRecord(value)) {
    p.add('config', key, `must be an object keyed by name, got ${typeName(value)}`);
    return undefined;
  }
  return value;
}

function checkCatalog(p: Problems, config: Dict): void {
  const catalog = config.catalog;
  if (catalog === undefined) return;
  if (!isRecord(catalog)) {
    p.add('config', 'catalog', `must be an object ({ url }), got ${typeName(catalog)}`);
    return;
  }
  unknownFields(p, catalog, ['url'], 'config', 'catalog');
  if (catalog.url !== undefined && nonEmptyString(p, catalog.url, 'config', 'catalog.url')) {
    if (!/^postgres(ql)?:\/\//i.test(catalog.url as string)) {
      p.add('config', 'catalog.url', 'must be a postgres:// URL (leave it out for the SQLite catalog)');
    }
  }
}

function nonEmptyString(p: Problems, value: unknown, object: string, field: string): value is string {
  if (typeof value !== 'string') {
    p.add(object, field, `must be a string, got ${typeName(value)}`);
    return false;
  }
  if (value.trim() === '') {
    p.add(object, field, 'must not be empty');
    return false;
  }
  return true;
}

function optionalString(p: Problems, value: Dict, key: string, object: string, prefix = ''): void {
  if (value[key] !== undefined) nonEmptyString(p, value[key], object, join(prefix, key));
}

/** A non-empty list of distinct non-empty strings, or undefined (after reporting) when it is not one. */
function stringList(
  p: Problems,
  value: unknown,
  object: string,
  field: string,
  options: { readonly nonEmpty: boolean },
): string[] | undefined {
  if (!Array.isArray(value)) {
    p.add(object, field, `must be an array of strings, got ${typeName(value)}`);
    return undefined;
  }
  if (options.nonEmpty && value.length === 0) {
    p.add(object, field, 'must list at least one name');
    return undefined;
  }
  const seen = new Set<string>();
  let ok = true;
  value.forEach((item, i) => {
    if (!nonEmptyString(p, item, object, `${field}[${i}]`)) ok = false;
    else if (seen.has(item)) {
      p.add(object, `${field}[${i}]`, `"${item}" is listed twice`);
      ok = false;
    } else seen.add(item);
  });
  return ok ? (value as string[]) : undefined;
}

function stringRecord(p: Problems, value: unknown, object: string, field: string): void {
  if (!isRecord(value)) {
    p.add(object, field, `must be an object of string values, got ${typeName(value)}`);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (key.trim() === '') p.add(object, field, 'has an empty key');
    if (typeof item !== 'string') p.add(object, `${field}.${key}`, `must be a string, got ${typeName(item)}`);
  }
}

function scalarRecord(p: Problems, value: unknown, object: string, field: string): void {
  if (!isRecord(value)) {
    p.add(object, field, `must be an object of strings, numbers or booleans, got ${typeName(value)}`);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const t = typeof item;
    if (t !== 'string' && t !== 'number' && t !== 'boolean') {
      p.add(object, `${field}.${key}`, `must be a string, number or boolean, got ${typeName(item)}`);
    }
  }
}

function checkName(p: Problems, object: string, name: string, pattern: RegExp, what: string): void {
  if (!pattern.test(name)) p.add(object, 'name', `"${name}" is not a valid name: ${what}`);
}

function checkSource(p: Problems, name: string, source: unknown): void {
  const object = configObjectName('sources', name);
  checkName(p, object, name, SHORT_NAME, 'use lower-case letters, digits and _, not starting with a digit');
  if (!isRecord(source)) {
    p.add(object, '(value)', `must be an object ({ type, … }), got ${typeName(source)}`);
    return;
  }
  const type = source.type;
  if (typeof type !== 'string' || !SOURCE_TYPES.includes(type)) {
    const written =
      typeof type === 'string' ? `"${type}"${didYouMeanSuffix(type, SOURCE_TYPES)}` : typeName(type);
    p.add(object, 'type', `must be one of ${SOURCE_TYPES.map((t) => `"${t}"`).join(', ')}, got ${written}`);
    return;
  }
  unknownFields(p, source, SOURCE_FIELDS[type]!, object, '');
  optionalString(p, source, 'description', object);
  optionalString(p, source, 'changeColumn', object);
  if (type === 'delta') {
    const hasTable = source.table !== undefined;
    const hasPath = source.path !== undefined;
    if (hasTable === hasPath) {
      p.add(
        object,
        hasTable ? 'table' : 'path',
        'give either a catalog table name or a folder path, not both',
      );
      if (!hasTable) return;
    }
    if (hasTable && nonEmptyString(p, source.table, object, 'table')) checkTableRef(p, object, source.table);
    if (hasPath) nonEmptyString(p, source.path, object, 'path');
  } else if (type === 'csv' || type === 'parquet') {
    if (source.path === undefined) p.add(object, 'path', `a ${type} source needs a path (a file or glob)`);
    else nonEmptyString(p, source.path, object, 'path');
    if (source.options !== undefined) scalarRecord(p, source.options, object, 'options');
  } else {
    if (source.table === undefined) p.add(object, 'table', 'a postgres source needs a table (schema.table)');
    else if (nonEmptyString(p, source.table, object, 'table')) {
      if (!/^[^.\s]+(\.[^.\s]+)?$/.test(source.table)) {
        p.add(object, 'table', `"${source.table}" is not a table name: write table or schema.table`);
      }
    }
    if (source.url !== undefined && nonEmptyString(p, source.url, object, 'url')) {
      if (!/^postgres(ql)?:\/\//i.test(source.url)) p.add(object, 'url', 'must be a postgres:// URL');
    }
  }
}

function checkTableRef(p: Problems, object: string, table: string): void {
  const part = '[A-Za-z_][A-Za-z0-9_]*';
  if (!new RegExp(`^${part}(\\.${part}){0,2}$`).test(table)) {
    p.add(object, 'table', `"${table}" is not a table name: write catalog.schema.table`);
  }
}

/** Checks an entity; returns its keys when they are valid. */
function checkEntity(p: Problems, name: string, entity: unknown): readonly string[] | undefined {
  const object = configObjectName('entities', name);
  checkName(p, object, name, SHORT_NAME, 'use lower-case letters, digits and _, not starting with a digit');
  if (!isRecord(entity)) {
    p.add(object, '(value)', `must be an object ({ keys }), got ${typeName(entity)}`);
    return undefined;
  }
  unknownFields(p, entity, ENTITY_FIELDS, object, '');
  optionalString(p, entity, 'description', object);
  if (entity.keys === undefined) {
    p.add(object, 'keys', 'an entity needs its key columns (keys: [...])');
    return undefined;
  }
  return stringList(p, entity.keys, object, 'keys', { nonEmpty: true });
}

/** Checks a feature table; returns its resolved primary keys when they could be resolved. */
function checkFeatureTable(
  p: Problems,
  name: string,
  table: unknown,
  /** Entity name → its keys (undefined when invalid); undefined when the entities section is invalid. */
  entities: ReadonlyMap<string, readonly string[] | undefined> | undefined,
  hasWriter: boolean,
): readonly string[] | undefined {
  const object = configObjectName('featureTables', name);
  checkName(
    p,
    object,
    name,
    FEATURE_TABLE_NAME,
    'write catalog.schema.table in lower-case letters, digits and _',
  );
  if (!isRecord(table)) {
    p.add(object, '(value)', `must be an object ({ entity | primaryKeys, … }), got ${typeName(table)}`);
    return undefined;
  }
  unknownFields(p, table, FEATURE_TABLE_FIELDS, object, '');
  for (const key of ['description', 'owner', 'timeseriesColumn']) optionalString(p, table, key, object);
  if (table.tags !== undefined) stringRecord(p, table.tags, object, 'tags');
  if (table.properties !== undefined) stringRecord(p, table.properties, object, 'properties');

  let entityKeys: readonly string[] | undefined;
  if (table.entity !== undefined && nonEmptyString(p, table.entity, object, 'entity') && entities) {
    if (!entities.has(table.entity)) {
      p.add(object, 'entity', unknownRef('entity', table.entity, [...entities.keys()]));
    } else entityKeys = entities.get(table.entity);
  }
  let keys: readonly string[] | undefined;
  if (table.primaryKeys !== undefined) {
    keys = stringList(p, table.primaryKeys, object, 'primaryKeys', { nonEmpty: true });
    if (keys && entityKeys) {
      const missing = entityKeys.filter((k) => !keys!.includes(k));
      if (missing.length > 0) {
        p.add(
          object,
          'primaryKeys',
          `must include the keys of entity "${table.entity}" (${missing.join(', ')} missing)`,
        );
        keys = undefined;
      }
    }
  } else if (table.entity === undefined) {
    p.add(object, 'primaryKeys', 'give primaryKeys or an entity whose keys are the primary keys');
  } else {
    keys = entityKeys;
  }
  if (keys && typeof table.timeseriesColumn === 'string' && !keys.includes(table.timeseriesColumn)) {
    keys = [...keys, table.timeseriesColumn];
  }

  const featureNames: string[] = [];
  if (table.features !== undefined) {
    if (!isRecord(table.features)) {
      p.add(object, 'features', `must be an object keyed by column name, got ${typeName(table.features)}`);
    } else {
      for (const [column, feature] of Object.entries(table.features)) {
        featureNames.push(column);
        checkFeature(p, object, column, feature);
      }
    }
  }

  const partitions =
    table.partitionColumns === undefined
      ? undefined
      : stringList(p, table.partitionColumns, object, 'partitionColumns', { nonEmpty: false });
  const clusters =
    table.clusterBy === undefined
      ? undefined
      : stringList(p, table.clusterBy, object, 'clusterBy', { nonEmpty: false });
  // Without a pipeline the declared columns are all the columns there are; with one,
  // `larder plan` checks these against the pipeline's output.
  if (!hasWriter && keys) {
    const columns = new Set([...keys, ...featureNames]);
    for (const [field, list] of [
      ['partitionColumns', partitions],
      ['clusterBy', clusters],
    ] as const) {
      list?.forEach((column, i) => {
        if (!columns.has(column)) {
          p.add(
            object,
            `${field}[${i}]`,
            `"${column}" is neither a primary key nor a declared feature (columns: ${[...columns].join(', ')})`,
          );
        }
      });
    }
  }
  return keys;
}

function checkFeature(p: Problems, object: string, column: string, feature: unknown): void {
  const field = `features.${column}`;
  if (column.trim() === '') p.add(object, 'features', 'has a feature with an empty name');
  if (!isRecord(feature)) {
    p.add(object, field, `must be an object ({ type?, description? }), got ${typeName(feature)}`);
    return;
  }
  unknownFields(p, feature, FEATURE_FIELDS, object, field);
  optionalString(p, feature, 'description', object, field);
  if (feature.type !== undefined) {
    const problem = featureTypeProblem(feature.type);
    if (problem) p.add(object, `${field}.type`, problem);
  }
}

function featureTypeProblem(type: unknown): string | undefined {
  if (typeof type !== 'string') return `must be a type name, got ${typeName(type)}`;
  if (SIMPLE_TYPES.includes(type)) return undefined;
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  if (decimal) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2]);
    if (precision < 1 || precision > 38) return `decimal precision ${precision} is out of range 1-38`;
    if (scale > precision) return `decimal scale ${scale} is greater than its precision ${precision}`;
    return undefined;
  }
  return `unknown type "${type}"${didYouMeanSuffix(type, SIMPLE_TYPES)} (types: ${SIMPLE_TYPES.join(', ')}, decimal(p,s))`;
}

function unknownRef(what: string, name: string, known: readonly string[]): string {
  const list = known.length === 0 ? `no ${what} is declared` : `known: ${known.join(', ')}`;
  return `unknown ${what} "${name}"${didYouMeanSuffix(name, known)} (${list})`;
}

/** What a pipeline may refer to; a section is undefined when it is invalid (references to it go unchecked). */
interface PipelineScope {
  readonly sources: Dict | undefined;
  readonly tables: Dict | undefined;
  readonly keys: ReadonlyMap<string, readonly string[]>;
  /** Feature table → the first pipeline writing it. */
  readonly writers: Map<string, string>;
}

function checkPipeline(p: Problems, name: string, pipeline: unknown, scope: PipelineScope): void {
  const object = configObjectName('pipelines', name);
  checkName(p, object, name, SHORT_NAME, 'use lower-case letters, digits and _, not starting with a digit');
  if (!isRecord(pipeline)) {
    p.add(object, '(value)', `must be an object ({ output, sources, sql }), got ${typeName(pipeline)}`);
    return;
  }
  unknownFields(p, pipeline, PIPELINE_FIELDS, object, '');
  optionalString(p, pipeline, 'description', object);
  if (pipeline.params !== undefined) scalarRecord(p, pipeline.params, object, 'params');

  let output: string | undefined;
  if (pipeline.output === undefined) p.add(object, 'output', 'a pipeline needs the feature table it writes');
  else if (nonEmptyString(p, pipeline.output, object, 'output') && scope.tables) {
    if (scope.tables[pipeline.output] === undefined) {
      p.add(object, 'output', unknownRef('feature table', pipeline.output, Object.keys(scope.tables)));
    } else {
      output = pipeline.output;
      const other = scope.writers.get(output);
      if (other !== undefined) {
        p.add(object, 'output', `feature table "${output}" is already written by pipeline "${other}"`);
      } else scope.writers.set(output, name);
    }
  }

  let sources: string[] | undefined;
  if (pipeline.sources === undefined) p.add(object, 'sources', 'a pipeline lists the sources its SQL reads');
  else {
    sources = stringList(p, pipeline.sources, object, 'sources', { nonEmpty: false });
    const declared = scope.sources;
    if (declared === undefined) sources = undefined;
    else {
      const known = Object.keys(declared);
      (Array.isArray(pipeline.sources) ? pipeline.sources : []).forEach((source: unknown, i: number) => {
        if (typeof source === 'string' && declared[source] === undefined) {
          p.add(object, `sources[${i}]`, unknownRef('source', source, known));
          sources = undefined;
        }
      });
    }
  }

  if (pipeline.sql === undefined) p.add(object, 'sql', 'a pipeline needs its SQL (a string or a function)');
  else if (typeof pipeline.sql !== 'function') nonEmptyString(p, pipeline.sql, object, 'sql');

  if (pipeline.incremental !== undefined) {
    checkIncremental(p, object, pipeline.incremental, {
      output,
      keys: output === undefined ? undefined : scope.keys.get(output),
      sources,
      declared: scope.sources,
    });
  }
}

function checkIncremental(
  p: Problems,
  object: string,
  incremental: unknown,
  context: {
    readonly output: string | undefined;
    readonly keys: readonly string[] | undefined;
    readonly sources: readonly string[] | undefined;
    readonly declared: Dict | undefined;
  },
): void {
  if (!isRecord(incremental)) {
    p.add(object, 'incremental', `must be an object ({ key, sources? }), got ${typeName(incremental)}`);
    return;
  }
  unknownFields(p, incremental, INCREMENTAL_FIELDS, object, 'incremental');
  let key: readonly string[] | undefined;
  if (incremental.key === undefined) p.add(object, 'incremental.key', 'give the entity key column(s)');
  else if (typeof incremental.key === 'string') {
    if (nonEmptyString(p, incremental.key, object, 'incremental.key')) key = [incremental.key];
  } else key = stringList(p, incremental.key, object, 'incremental.key', { nonEmpty: true });
  if (key && context.keys && context.output) {
    for (const column of key) {
      if (!context.keys.includes(column)) {
        p.add(
          object,
          'incremental.key',
          `"${column}" is not a primary key of ${context.output} (primary keys: ${context.keys.join(', ')})`,
        );
      }
    }
  }

  // Change-tracked sources: those listed, else every source of the pipeline with a changeColumn.
  const tracked: { name: string; field: string; changeColumn: unknown }[] = [];
  const listed = incremental.sources;
  if (listed === undefined) {
    for (const name of context.sources ?? []) {
      const source = context.declared?.[name];
      if (isRecord(source) && source.changeColumn !== undefined) {
        tracked.push({ name, field: 'incremental', changeColumn: source.changeColumn });
      }
    }
    if (context.sources && tracked.length === 0) {
      p.add(
        object,
        'incremental',
        'no source of the pipeline has a changeColumn: give one to a source, or list sources with their change column in incremental.sources',
      );
    }
  } else if (Array.isArray(listed)) {
    const names = stringList(p, listed, object, 'incremental.sources', { nonEmpty: true });
    names?.forEach((name, i) => {
      tracked.push({ name, field: `incremental.sources[${i}]`, changeColumn: undefined });
    });
  } else if (isRecord(listed)) {
    if (Object.keys(listed).length === 0)
      p.add(object, 'incremental.sources', 'must list at least one source');
    for (const [name, options] of Object.entries(listed)) {
      const field = `incremental.sources.${name}`;
      if (!isRecord(options)) {
        p.add(object, field, `must be an object ({ changeColumn? }), got ${typeName(options)}`);
        continue;
      }
      unknownFields(p, options, ['changeColumn'], object, field);
      if (
        options.changeColumn !== undefined &&
        !nonEmptyString(p, options.changeColumn, object, `${field}.changeColumn`)
      ) {
        continue;
      }
      tracked.push({ name, field, changeColumn: options.changeColumn });
    }
  } else {
    p.add(
      object,
      'incremental.sources',
      `must be a list of source names or an object of { changeColumn }, got ${typeName(listed)}`,
    );
  }
  if (listed === undefined) return;
  for (const { name, field, changeColumn } of tracked) {
    if (context.sources && !context.sources.includes(name)) {
      p.add(
        object,
        field,
        `"${name}" is not a source of this pipeline (sources: ${context.sources.join(', ') || 'none'})`,
      );
      continue;
    }
    const source = context.declared?.[name];
    if (changeColumn === undefined && isRecord(source) && source.changeColumn === undefined) {
      p.add(object, field, `source "${name}" has no change column: set changeColumn on the source or here`);
    }
  }
}

function checkJob(p: Problems, name: string, job: unknown, pipelines: Dict | undefined): void {
  const object = configObjectName('jobs', name);
  checkName(p, object, name, SHORT_NAME, 'use lower-case letters, digits and _, not starting with a digit');
  if (!isRecord(job)) {
    p.add(object, '(value)', `must be an object ({ pipelines, schedule? }), got ${typeName(job)}`);
    return;
  }
  unknownFields(p, job, JOB_FIELDS, object, '');
  if (job.pipelines === undefined) p.add(object, 'pipelines', 'a job lists the pipelines it runs');
  else {
    const names = stringList(p, job.pipelines, object, 'pipelines', { nonEmpty: true });
    names?.forEach((pipeline, i) => {
      if (pipelines && pipelines[pipeline] === undefined) {
        p.add(object, `pipelines[${i}]`, unknownRef('pipeline', pipeline, Object.keys(pipelines)));
      }
    });
  }
  if (job.schedule !== undefined && nonEmptyString(p, job.schedule, object, 'schedule')) {
    const problem = cronScheduleProblem(job.schedule);
    if (problem) p.add(object, 'schedule', `"${job.schedule}" is not a schedule: ${problem}`);
  }
  if (job.paused !== undefined && typeof job.paused !== 'boolean') {
    p.add(object, 'paused', `must be true or false, got ${typeName(job.paused)}`);
  }
}

/** A deep-frozen copy with every feature table's primary keys resolved. */
function normalizeConfig(config: LarderConfig): LarderConfig {
  const tables: Record<string, unknown> = {};
  for (const [name, table] of Object.entries(config.featureTables ?? {})) {
    let keys = table.primaryKeys ?? config.entities?.[table.entity ?? '']?.keys ?? [];
    if (table.timeseriesColumn !== undefined && !keys.includes(table.timeseriesColumn)) {
      keys = [...keys, table.timeseriesColumn];
    }
    tables[name] = { ...table, primaryKeys: keys };
  }
  const copy = config.featureTables === undefined ? { ...config } : { ...config, featureTables: tables };
  return deepFreeze(deepCopy(copy)) as LarderConfig;
}

function deepCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepCopy);
  if (isRecord(value)) {
    const out: Dict = {};
    for (const [key, item] of Object.entries(value)) out[key] = deepCopy(item);
    return out;
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
