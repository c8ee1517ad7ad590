import { describe, expect, it } from 'vitest';
import { isLarderError } from '../errors.js';
import { type ConfigProblem, findConfigProblems, validateConfig } from './validate-config.js';

// Tests mutate configs freely, whatever their shape.
// biome-ignore lint/suspicious/noExplicitAny: a config under test is any shape
type Config = Record<string, any>;

/** A valid config; each test breaks one thing in a fresh copy. */
function base(): Config {
  return {
    sources: {
      raw_customers: { type: 'delta', path: 'data/raw_customers', changeColumn: '_change_timestamp' },
      raw_transactions: {
        type: 'delta',
        table: 'ml.churn_raw.raw_transactions',
        changeColumn: '_change_timestamp',
      },
      plans: { type: 'csv', path: 'data/plans.csv', options: { delim: ';', header: true } },
      crm: { type: 'postgres', table: 'public.accounts' },
    },
    entities: { customer: { keys: ['customer_id'], description: 'a customer' } },
    featureTables: {
      'ml.churn_features.customer_features': {
        entity: 'customer',
        description: 'per customer',
        tags: { team: 'ml' },
        features: { n_tx: { type: 'long', description: 'transactions' }, spend: { type: 'decimal(12,2)' } },
        clusterBy: ['customer_id'],
      },
      'ml.churn_features.daily': {
        primaryKeys: ['customer_id'],
        timeseriesColumn: 'day',
        partitionColumns: ['day'],
      },
    },
    pipelines: {
      customer_features: {
        output: 'ml.churn_features.customer_features',
        sources: ['raw_customers', 'raw_transactions'],
        sql: 'SELECT 1',
        incremental: { key: 'customer_id' },
        params: { days: 30 },
      },
    },
    jobs: { nightly: { schedule: '0 0 2 * * ?', pipelines: ['customer_features'] } },
  };
}

function problems(mutate: (config: Config) => void): ConfigProblem[] {
  const config = base();
  mutate(config);
  return findConfigProblems(config);
}

/** The single problem a mutation causes. */
function only(mutate: (config: Config) => void): ConfigProblem {
  const found = problems(mutate);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('validateConfig', () => {
  it('accepts a valid config and returns a frozen copy with resolved primary keys', () => {
    const original = base();
    const config = validateConfig(original, { file: '/p/larder.config.ts', projectDir: '/p' });
    expect(config.featureTables?.['ml.churn_features.customer_features']?.primaryKeys).toEqual([
      'customer_id',
    ]);
    expect(config.featureTables?.['ml.churn_features.daily']?.primaryKeys).toEqual(['customer_id', 'day']);
    expect(Object.isFrozen(config)).toBe(true);
    expect(original.featureTables['ml.churn_features.customer_features'].primaryKeys).toBeUndefined();
  });

  it('accepts an empty config', () => {
    expect(findConfigProblems({})).toEqual([]);
  });

  it('throws one CONFIG_INVALID listing every problem as file: object › field: problem', () => {
    const config = base();
    config.pipelines.customer_features.sources = ['raw_customers', 'raw_txn'];
    config.featureTable = {};
    try {
      validateConfig(config, { file: '/p/larder.config.ts', projectDir: '/p' });
      expect.unreachable();
    } catch (error) {
      if (!isLarderError(error, 'CONFIG_INVALID')) throw error;
      expect(error.message).toContain('2 problems in larder.config.ts:');
      expect(error.message).toContain(
        'larder.config.ts: config › featureTable: unknown field (did you mean "featureTables"?)',
      );
      expect(error.message).toContain(
        'larder.config.ts: pipelines.customer_features › sources[1]: unknown source "raw_txn" (known: raw_customers, raw_transactions, plans, crm)',
      );
      expect(error.context).toMatchObject({
        file: '/p/larder.config.ts',
        object: 'config',
        field: 'featureTable',
      });
      expect((error.context.problems as unknown[]).length).toBe(2);
    }
  });

  it('rejects a default export that is not an object', () => {
    expect(findConfigProblems(42)[0]).toMatchObject({ object: 'config', field: 'default export' });
    expect(findConfigProblems([])[0]?.problem).toContain('got an array');
  });

  it('rejects a section that is not an object', () => {
    expect(only((c) => (c.sources = ['raw']))).toMatchObject({ object: 'config', field: 'sources' });
  });

  describe('names', () => {
    it('rejects source, entity, pipeline and job names that are not lower-case identifiers', () => {
      const found = problems((c) => {
        c.sources.RawCustomers = { type: 'csv', path: 'a.csv' };
        c.entities['2nd'] = { keys: ['id'] };
        c.jobs['night-job'] = { pipelines: ['customer_features'] };
      });
      expect(found.map((p) => [p.object, p.field])).toEqual([
        ['sources["RawCustomers"]', 'name'],
        ['entities["2nd"]', 'name'],
        ['jobs["night-job"]', 'name'],
      ]);
    });

    it('rejects feature table names that are not three lower-case parts', () => {
      const found = problems((c) => {
        c.featureTables['churn_features.x'] = { primaryKeys: ['id'] };
        c.featureTables['ml.Churn.x'] = { primaryKeys: ['id'] };
      });
      expect(found.map((p) => p.object)).toEqual([
        'featureTables["churn_features.x"]',
        'featureTables["ml.Churn.x"]',
      ]);
      expect(found[0]?.problem).toContain('catalog.schema.table');
    });
  });

  describe('unknown fields', () => {
    it('suggests the nearest known field at the top level and inside objects', () => {
      expect(only((c) => (c.pipeline = {}))).toEqual({
        object: 'config',
        field: 'pipeline',
        problem: 'unknown field (did you mean "pipelines"?)',
      });
      expect(only((c) => (c.featureTables['ml.churn_features.daily'].primaryKey = ['x']))).toMatchObject({
        field: 'primaryKey',
        problem: 'unknown field (did you mean "primaryKeys"?)',
      });
      expect(only((c) => (c.sources.raw_customers.changeColum = 'x'))).toMatchObject({
        object: 'sources.raw_customers',
        problem: 'unknown field (did you mean "changeColumn"?)',
      });
    });

    it('gives no suggestion when nothing is close', () => {
      expect(only((c) => (c.models = {})).problem).toBe('unknown field');
    });
  });

  describe('sources', () => {
    it('rejects an unknown source type with a suggestion', () => {
      const p = only((c) => (c.sources.plans.type = 'cvs'));
      expect(p).toMatchObject({ object: 'sources.plans', field: 'type' });
      expect(p.problem).toContain('did you mean "csv"?');
    });

    it('requires a delta source to have a table or a path, not both', () => {
      expect(only((c) => (c.sources.raw_customers.table = 'ml.a.b')).problem).toContain('not both');
      expect(only((c) => delete c.sources.raw_customers.path).problem).toContain('either');
    });

    it('rejects a delta table reference that is not a table name', () => {
      expect(only((c) => (c.sources.raw_transactions.table = 'ml.raw transactions')).field).toBe('table');
    });

    it('requires a path for csv and parquet sources and scalar options', () => {
      expect(only((c) => delete c.sources.plans.path)).toMatchObject({
        object: 'sources.plans',
        field: 'path',
      });
      expect(only((c) => (c.sources.plans.options = { delim: [';'] }))).toMatchObject({
        field: 'options.delim',
      });
    });

    it('requires a postgres table and a postgres:// url', () => {
      expect(only((c) => delete c.sources.crm.table).field).toBe('table');
      expect(only((c) => (c.sources.crm.url = 'mysql://db/x')).field).toBe('url');
      expect(only((c) => (c.sources.crm.table = 'a.b.c')).field).toBe('table');
    });

    it('rejects a change column that is not a non-empty string', () => {
      expect(only((c) => (c.sources.plans.changeColumn = ''))).toMatchObject({
        field: 'changeColumn',
        problem: 'must not be empty',
      });
    });
  });

  describe('entities', () => {
    it('requires non-empty, distinct keys', () => {
      expect(only((c) => (c.entities.customer.keys = [])).problem).toBe('must list at least one name');
      expect(only((c) => (c.entities.customer.keys = ['a', 'a'])).field).toBe('keys[1]');
      expect(only((c) => (c.entities.customer.keys = 'customer_id')).problem).toContain(
        'must be an array of strings, got the string "customer_id"',
      );
    });
  });

  describe('feature tables', () => {
    it('requires an existing entity or primary keys', () => {
      const p = only((c) => (c.featureTables['ml.churn_features.customer_features'].entity = 'custmer'));
      expect(p).toMatchObject({ field: 'entity' });
      expect(p.problem).toBe('unknown entity "custmer" (did you mean "customer"?) (known: customer)');
      expect(only((c) => delete c.featureTables['ml.churn_features.daily'].primaryKeys).field).toBe(
        'primaryKeys',
      );
    });

    it('requires primary keys given beside an entity to include its keys', () => {
      const p = only(
        (c) => (c.featureTables['ml.churn_features.customer_features'].primaryKeys = ['account_id']),
      );
      expect(p.problem).toContain('customer_id missing');
    });

    it('checks partition and cluster columns against the declared columns of a table no pipeline writes', () => {
      const p = only((c) => (c.featureTables['ml.churn_features.daily'].partitionColumns = ['month']));
      expect(p).toMatchObject({
        object: 'featureTables["ml.churn_features.daily"]',
        field: 'partitionColumns[0]',
      });
      expect(p.problem).toContain('columns: customer_id, day');
    });

    it('leaves partition and cluster columns of a pipeline-written table to plan', () => {
      expect(
        problems((c) => (c.featureTables['ml.churn_features.customer_features'].clusterBy = ['n_days'])),
      ).toEqual([]);
    });

    it('rejects unknown feature types and bad decimals', () => {
      const p = only(
        (c) => (c.featureTables['ml.churn_features.customer_features'].features.n_tx.type = 'int64'),
      );
      expect(p.field).toBe('features.n_tx.type');
      expect(p.problem).toContain('unknown type "int64"');
      expect(
        only(
          (c) =>
            (c.featureTables['ml.churn_features.customer_features'].features.spend.type = 'decimal(5,7)'),
        ).problem,
      ).toContain('greater than its precision');
    });

    it('rejects tags that are not strings', () => {
      expect(
        only((c) => (c.featureTables['ml.churn_features.customer_features'].tags = { tier: 1 })).field,
      ).toBe('tags.tier');
    });
  });

  describe('pipelines', () => {
    it('requires the output to be a declared feature table', () => {
      const p = only((c) => (c.pipelines.customer_features.output = 'ml.churn_features.customers'));
      expect(p).toMatchObject({ object: 'pipelines.customer_features', field: 'output' });
      expect(p.problem).toContain('unknown feature table "ml.churn_features.customers"');
    });

    it('rejects a feature table written by two pipelines', () => {
      const p = only((c) => (c.pipelines.again = { ...c.pipelines.customer_features }));
      expect(p).toMatchObject({ object: 'pipelines.again', field: 'output' });
      expect(p.problem).toContain('already written by pipeline "customer_features"');
    });

    it('requires sql to be a string or a function', () => {
      expect(only((c) => (c.pipelines.customer_features.sql = 42)).field).toBe('sql');
      expect(problems((c) => (c.pipelines.customer_features.sql = () => 'SELECT 1'))).toEqual([]);
    });

    it('rejects params that are not scalars', () => {
      expect(only((c) => (c.pipelines.customer_features.params = { since: new Date(0) })).field).toBe(
        'params.since',
      );
    });

    it('requires incremental key columns to be primary keys of the output', () => {
      const p = only((c) => (c.pipelines.customer_features.incremental.key = ['account_id']));
      expect(p).toMatchObject({ field: 'incremental.key' });
      expect(p.problem).toBe(
        '"account_id" is not a primary key of ml.churn_features.customer_features (primary keys: customer_id)',
      );
    });

    it('requires a change-tracked source to have a change column', () => {
      const p = only((c) => {
        c.pipelines.customer_features.sources.push('plans');
        c.pipelines.customer_features.incremental.sources = ['raw_transactions', 'plans'];
      });
      expect(p).toMatchObject({ field: 'incremental.sources[1]' });
      expect(p.problem).toContain('source "plans" has no change column');
      expect(
        problems((c) => {
          c.pipelines.customer_features.sources.push('plans');
          c.pipelines.customer_features.incremental.sources = { plans: { changeColumn: 'updated_at' } };
        }),
      ).toEqual([]);
    });

    it('requires change-tracked sources to be sources of the pipeline', () => {
      const p = only((c) => (c.pipelines.customer_features.incremental.sources = ['crm']));
      expect(p.problem).toBe(
        '"crm" is not a source of this pipeline (sources: raw_customers, raw_transactions)',
      );
    });

    it('rejects an incremental pipeline without any change-tracked source', () => {
      const p = only((c) => (c.pipelines.customer_features.sources = ['plans']));
      expect(p).toMatchObject({ field: 'incremental' });
      expect(p.problem).toContain('no source of the pipeline has a changeColumn');
    });
  });

  describe('jobs', () => {
    it('requires the pipelines a job runs to exist', () => {
      const p = only((c) => (c.jobs.nightly.pipelines = ['customer_feature']));
      expect(p).toMatchObject({ object: 'jobs.nightly', field: 'pipelines[0]' });
      expect(p.problem).toContain('did you mean "customer_features"?');
    });

    it('accepts 5-, 6- and 7-field schedules, Quartz steps and nicknames', () => {
      for (const schedule of [
        '*/15 * * * *',
        '0 0 2 * * ?',
        '0 0 2 * * ? *',
        '0 30 6 ? * MON-FRI 2026',
        '0 0/5 14 * * ?',
        '0 0 12 1/5 * ?',
        '0 15 10 ? * 6L',
        '0 0 12 ? JAN,MAR WED',
        '@daily',
        '0 0 L * ?',
        '0 0 LW * ?',
        '0 0 15W * ?',
        '0 0 ? * 6#3',
      ]) {
        expect(
          problems((c) => (c.jobs.nightly.schedule = schedule)),
          schedule,
        ).toEqual([]);
      }
    });

    it('rejects what croner rejects, in the config error format', () => {
      const p = only((c) => (c.jobs.nightly.schedule = '0 25 * * *'));
      expect(p).toMatchObject({ object: 'jobs.nightly', field: 'schedule' });
      expect(p.problem).toBe('"0 25 * * *" is not a schedule: Invalid value for hour: 25');
      expect(only((c) => (c.jobs.nightly.schedule = '0 0 *')).problem).toContain(
        'exactly five, six, or seven space separated parts are required',
      );
      expect(only((c) => (c.jobs.nightly.schedule = '0 0 * FOO *')).problem).toContain(
        '(FOO) contains illegal characters',
      );
      expect(only((c) => (c.jobs.nightly.schedule = '0 0 * * 1#6')).problem).toContain(
        'nth weekday out of range',
      );
      expect(only((c) => (c.jobs.nightly.schedule = '@nightly')).problem).toBe(
        '"@nightly" is not a schedule: unknown nickname "@nightly" (use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)',
      );
    });

    it('rejects schedules the hand-written check used to let through', () => {
      // Each of these passed the old field-by-field check; croner refuses them.
      for (const [schedule, reason] of [
        ['0 0 * * L', "dayOfWeek is not a number: 'L'"],
        ['0 0 * * FRI-MON', "From value is larger than to value: '5-1'"],
        ['0 0 LW,15 * *', 'LW can not be in a list in day-of-month'],
        ['0 0 1-31/40 * *', 'steps cannot be greater than maximum value of part (31)'],
      ] as const) {
        const p = only((c) => (c.jobs.nightly.schedule = schedule));
        expect(p.field, schedule).toBe('schedule');
        const prefix = `"${schedule}" is not a schedule: `;
        expect(p.problem.slice(0, prefix.length), schedule).toBe(prefix);
        expect(p.problem, schedule).toContain(reason);
      }
    });

    it('rejects a paused flag that is not a boolean', () => {
      expect(only((c) => (c.jobs.nightly.paused = 'yes')).field).toBe('paused');
    });
  });

  describe('catalog and warehouse', () => {
    it('accepts a postgres catalog url and rejects others', () => {
      expect(problems((c) => (c.catalog = { url: 'postgres://u@h/db' }))).toEqual([]);
      expect(only((c) => (c.catalog = { url: 'sqlite://x.db' })).field).toBe('catalog.url');
      expect(only((c) => (c.warehouse = 3)).field).toBe('warehouse');
    });
  });
});
