/**
 * The machine's PostgreSQL, for tests that run against a real server: its
 * URL (`LARDER_TEST_POSTGRES_URL`, default the local `test` database) and
 * the cleanup of the unique schema a test created there.
 */
import pg from 'pg';

/** The server tests use. */
export const TEST_POSTGRES_URL =
  process.env.LARDER_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Drop `schema` and everything in it, if it exists.
 *
 * @example
 * afterAll(() => dropTestSchema(schema));
 */
export async function dropTestSchema(schema: string, url: string = TEST_POSTGRES_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '""')}" CASCADE`);
  } finally {
    await client.end();
  }
}
