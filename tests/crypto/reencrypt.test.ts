import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import * as v from 'valibot'
import { envSchema } from '../../src/config/schema.ts'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { listSealedColumns, reencryptAll } from '../../src/crypto/reencrypt.ts'
import { createRepositories } from '../../storage/repos/index.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const k1 = `k1:${generateKey()}`
const k2 = `k2:${generateKey()}`
const root = resolve(import.meta.dir, '../..')

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

/** One value in every sealed column the repositories write. */
async function seedEverySealedColumn(keys: KeyRing) {
  const repos = createRepositories(db.sql, keys)
  const { portal } = await repos.portals.upsert({
    memberId: `m-${Math.random()}`,
    domain: 'rotate.bitrix24.ru',
    applicationToken: 'app-token',
    accessToken: 'access-token',
    refreshToken: 'refresh-token',
    appClientSecret: 'client-secret',
  })
  const account = await repos.accounts.create({
    portalId: portal.id,
    messenger: 'telegram',
    phone: '+79123456789',
    credentials: 'bot-token',
  })
  await repos.accountSessions.set(account.id, 'auth_key', 'session-bytes')
  await repos.contacts.upsert(account.id, { remoteId: 'u1', phone: '+79001112233' })
  await repos.deliveries.enqueue({
    accountId: account.id,
    direction: 'to_portal',
    kind: 'message',
    idempotencyKey: `rotate:${Math.random()}`,
    payload: { text: 'hello' },
  })
  return { repos, portalId: portal.id, accountId: account.id }
}

async function sealedValues(): Promise<Array<{ column: string; context: string; value: Buffer }>> {
  const out: Array<{ column: string; context: string; value: Buffer }> = []
  for (const { table, column, context } of await listSealedColumns(db.sql)) {
    const rows = await db.sql<{ value: Buffer }[]>`
      select ${db.sql(column)} as value from ${db.sql(table)} where ${db.sql(column)} is not null`
    for (const row of rows) out.push({ column: `${table}.${column}`, context, value: row.value })
  }
  return out
}

describe('S4: key rotation re-seals secrets at rest', () => {
  test('S4: every sealed column follows the table.column context convention', async () => {
    const keys = KeyRing.fromText(k1)
    await seedEverySealedColumn(keys)
    const values = await sealedValues()
    expect(new Set(values.map((x) => x.column))).toEqual(
      new Set([
        'portals.application_token_enc',
        'portals.access_token_enc',
        'portals.refresh_token_enc',
        'portals.app_client_secret_enc',
        'accounts.phone_enc',
        'accounts.credentials_enc',
        'account_sessions.value_enc',
        'contacts.phone_enc',
        'deliveries.payload_enc',
      ]),
    )
    for (const { context, value } of values) expect(() => keys.open(value, context)).not.toThrow()
  })

  test('S4: reencrypt moves every value to the newest key; the old key can then be dropped', async () => {
    const { portalId, accountId } = await seedEverySealedColumn(KeyRing.fromText(k1))
    const rotated = KeyRing.fromText(`${k1},${k2}`)
    const before = await sealedValues()
    const stale = before.filter((x) => rotated.keyIdOf(x.value) === 'k1').length
    expect(stale).toBeGreaterThan(0)

    const first = await reencryptAll(db.sql, rotated, { batchSize: 3 })
    expect(first.resealed).toBe(stale)
    expect((await sealedValues()).every((x) => rotated.keyIdOf(x.value) === 'k2')).toBe(true)
    expect((await reencryptAll(db.sql, rotated)).resealed).toBe(0)

    // With only the new key, everything still reads.
    const repos = createRepositories(db.sql, KeyRing.fromText(k2))
    expect((await repos.portals.get(portalId)).accessToken).toBe('access-token')
    expect((await repos.accounts.get(accountId)).phone).toBe('+79123456789')
    expect(await repos.accountSessions.get(accountId, 'auth_key')).toEqual(Buffer.from('session-bytes'))
  })
})

describe('CLI', () => {
  test('keygen prints an entry the key-ring setting accepts', async () => {
    const child = Bun.spawn([process.execPath, 'src/cli.ts', 'keygen'], { cwd: root, stdout: 'pipe' })
    const out = (await new Response(child.stdout).text()).trim()
    expect(await child.exited).toBe(0)
    expect(v.safeParse(envSchema, { OLCHAT_ENCRYPTION_KEYS: `${k1},${out}` }).success).toBe(true)
  })

  test.skipIf(testBackendSet() !== 'real')(
    'migrate and reencrypt run against the configured database',
    async () => {
      const fresh = await createTestDatabase({ migrated: false })
      try {
        const env = {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: fresh.url,
          REDIS_URL: testRedisUrl,
          OLCHAT_ENCRYPTION_KEYS: `${k1},${k2}`,
        }
        for (const command of ['migrate', 'reencrypt']) {
          const child = Bun.spawn([process.execPath, 'src/cli.ts', command], {
            cwd: root,
            env,
            stdout: 'pipe',
          })
          const out = await new Response(child.stdout).text()
          expect(await child.exited).toBe(0)
          expect(out).toContain(command === 'migrate' ? 'migrations done' : 'secrets re-sealed')
        }
        const [row] = await fresh.sql<{ n: number }[]>`select count(*)::int as n from schema_migrations`
        expect(row!.n).toBeGreaterThan(0)
      } finally {
        await fresh.drop()
      }
    },
  )
})
