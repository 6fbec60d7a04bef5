import { describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import { generateKey, KeyRing } from '../../../src/crypto/key-ring.ts'
import { createRepositories } from '../../../storage/repos/index.ts'
import { rawText } from '../../storage/fixtures.ts'
import { testBackendSet, testRedisUrl } from '../../support/backends.ts'
import { createTestDatabase } from '../../support/test-database.ts'

const root = resolve(import.meta.dir, '../../..')
const keyText = `k1:${generateKey()}`

async function run(args: string[], env: Record<string, string>, stdin?: string) {
  const child = Bun.spawn([process.execPath, 'src/cli.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdin: stdin === undefined ? 'ignore' : new Blob([stdin]),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()])
  return { code: await child.exited, out, err }
}

describe('CLI portal-credentials', () => {
  test('bad arguments: usage, exit 2, nothing opened', async () => {
    const result = await run(['portal-credentials', 'member-only'], {})
    expect(result.code).toBe(2)
    expect(result.err).toContain('usage: olchat portal-credentials')
  })

  // The CLI opens the database the configuration names; the embedded set has no server to point it at.
  test.skipIf(testBackendSet() !== 'real')(
    "stores a local app's credentials for one portal, the secret sealed (S4)",
    async () => {
      const db = await createTestDatabase()
      try {
        const repos = createRepositories(db.sql, KeyRing.fromText(keyText))
        const { portal } = await repos.portals.upsert({
          memberId: 'localportal01',
          domain: 'local.bitrix24.ru',
        })
        const env = { DATABASE_URL: db.url, REDIS_URL: testRedisUrl, OLCHAT_ENCRYPTION_KEYS: keyText }
        const args = ['portal-credentials', 'localportal01', 'local.66ba434d853c87.18550109']
        const stored = await run([...args, 'Secr3tFromArgv'], env)
        expect(stored.code).toBe(0)
        expect(stored.out).toContain('local-app credentials stored')
        expect(stored.out).not.toContain('Secr3tFromArgv')
        expect(await repos.portals.get(portal.id)).toMatchObject({
          appClientId: 'local.66ba434d853c87.18550109',
          appClientSecret: 'Secr3tFromArgv',
        })
        expect(await rawText(db.sql, 'portals')).not.toContain('Secr3tFromArgv')

        const fromStdin = await run([...args, '-'], env, 'Secr3tFromStdin\n')
        expect(fromStdin.code).toBe(0)
        expect((await repos.portals.get(portal.id)).appClientSecret).toBe('Secr3tFromStdin')

        const unknown = await run(['portal-credentials', 'nosuchportal', 'local.x', 'y'], env)
        expect(unknown.code).toBe(1)
        expect(unknown.err).toContain('no installed portal has member_id nosuchportal')
      } finally {
        await db.drop()
      }
    },
    30_000,
  )
})
