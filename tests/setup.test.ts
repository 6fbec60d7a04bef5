import { expect, test } from 'bun:test'
import { resolve } from 'node:path'

test('without the real servers the suites stop at once and say how to start them', async () => {
  const child = Bun.spawn([process.execPath, 'test', 'tests/config/readme-table.test.ts'], {
    cwd: resolve(import.meta.dir, '..'),
    env: {
      PATH: process.env.PATH ?? '',
      OLCHAT_TEST_BACKENDS: 'real',
      TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres',
      TEST_REDIS_URL: 'redis://127.0.0.1:1',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()])
  expect(code).toBe(1)
  expect(stderr).toContain('PostgreSQL is not answering at postgres://postgres@127.0.0.1:1/postgres')
  expect(stderr).toContain('pg_ctlcluster --skip-systemctl-redirect')
  expect(stderr).toContain('Redis is not answering at redis://127.0.0.1:1')
  expect(stderr).toContain('npm run test:embedded')
  expect(stderr).not.toContain('1 pass')
})
