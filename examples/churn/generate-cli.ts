/**
 * Command line of the churn data generator.
 *
 *   npx tsx examples/churn/generate-cli.ts [--customers 10000] [--seed 42] [--out .larder/warehouse/ml/churn_raw] [--replace]
 *   npx tsx examples/churn/generate-cli.ts --changes 1000 [--seed 42] [--out …]
 *
 * Without `--changes` it creates `raw_customers` and `raw_transactions`;
 * with it, it applies one CDC batch touching that many customers.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isLarderError } from '../../src/errors.js';
import { applyChanges, generateChurnData } from './generate.js';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '10000' },
    out: { type: 'string', default: '.larder/warehouse/ml/churn_raw' },
    changes: { type: 'string' },
    seed: { type: 'string', default: '42' },
    replace: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(`usage: generate-cli.ts [--customers N] [--out folder] [--seed S] [--replace]
       generate-cli.ts --changes N [--out folder] [--seed S]`);
} else {
  const out = resolve(values.out);
  const seed = Number(values.seed);
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  try {
    if (values.changes !== undefined) {
      const batch = await applyChanges({ out, changes: Number(values.changes), seed });
      console.log(
        `changes applied to ${out}: ${batch.changedCustomers} customers changed ` +
          `(${batch.updatedCustomers} updated, ${batch.newCustomers} new), ` +
          `${batch.newTransactions} transactions appended (${batch.lateTransactions} late-arriving), ` +
          `all newer than ${batch.changedAfter.toISOString()}, in ${seconds()} s`,
      );
    } else {
      const data = await generateChurnData({
        out,
        customers: Number(values.customers),
        seed,
        replace: values.replace,
      });
      const rate = ((100 * data.churned) / data.customers).toFixed(1);
      console.log(
        `generated ${data.customers} customers (churn rate ${rate} %) and ${data.transactions} transactions ` +
          `in ${seconds()} s\n  ${data.customersPath}\n  ${data.transactionsPath}`,
      );
    }
  } catch (error) {
    const exists = isLarderError(error, 'TABLE_ALREADY_EXISTS');
    console.error(
      `${(error as Error).message}${exists ? '\n  pass --replace to generate the tables again' : ''}`,
    );
    process.exitCode = 1;
  }
}
