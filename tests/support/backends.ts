/**
 * @module Which storage backends the suites run on, and where the real servers are.
 * `npm test` uses the real PostgreSQL and Redis; `OLCHAT_TEST_BACKENDS=embedded` runs the same suites on
 * embedded PGlite and the in-process cache. Implementations that need no server (in-process cache,
 * local files, s3rver) run in both.
 */
export type BackendSet = 'real' | 'embedded'

export function testBackendSet(): BackendSet {
  const value = process.env.OLCHAT_TEST_BACKENDS ?? 'real'
  if (value !== 'real' && value !== 'embedded') {
    throw new Error(`OLCHAT_TEST_BACKENDS: must be real or embedded, got ${value}`)
  }
  return value
}

/** Admin connection used to create and drop one throwaway database per test file. */
export const testPostgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
