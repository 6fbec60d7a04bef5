/**
 * Connecting a NEW Telegram account through `POST /api/v1/accounts` (Olchat issue #5): the real Telegram
 * connector (real mtcute clients over the Telegram stub world) and the real background — lease keeper,
 * supervisor, account actors, relay — in this process. The login runs before the account has a row, so it
 * must not write the `telegram_*` tables (their foreign key refused it with a 500); its session is staged,
 * stored with the account, and moved into those tables when the runtime starts the account's client.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BitrixClient, callWithToken } from '../../../src/bitrix/client/index.ts'
import type { ConnectorName, MessengerConnector } from '../../../src/bridge/connector.ts'
import { createAdminRoutes, ensureAdminToken, generateToken } from '../../../src/http/admin/index.ts'
import { createLogger } from '../../../src/log/logger.ts'
import { createMetrics } from '../../../src/metrics.ts'
import { type Background, startBackground } from '../../../src/runtime/background.ts'
import type { Services } from '../../../src/runtime/services.ts'
import { MemoryCache } from '../../../storage/cache/memory-cache.ts'
import { LocalFileStore } from '../../../storage/files/local-file-store.ts'
import type { AccountHealth } from '../../../storage/repos/accounts.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { telegramHarness } from '../../connectors/telegram/harness.ts'
import { repositories, secrets, seedPortal } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { until } from '../../support/until.ts'
import type { Loose } from './harness.ts'

let db: TestDatabase
let repos: Repositories
let tg: ReturnType<typeof telegramHarness>
let background: Background
let filesDir: string
let admin: ReturnType<typeof createAdminRoutes>
let token: string
let portalId: string

beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  tg = telegramHarness(repos)
  filesDir = mkdtempSync(join(tmpdir(), 'olchat-connect-telegram-'))
  const services: Services = {
    db: { sql: db.sql, kind: db.backend === 'embedded' ? 'embedded' : 'postgres', close: async () => {} },
    cache: new MemoryCache(),
    files: new LocalFileStore({ dir: filesDir, baseUrl: 'http://127.0.0.1:9', signingKey: randomBytes(32) }),
    keys: secrets,
    close: async () => {},
  }
  const connectors = new Map<ConnectorName, MessengerConnector>([['telegram', tg.connector]])
  const log = createLogger({ level: 'silent' })
  background = startBackground({
    services,
    repos,
    bitrix: {
      sql: db.sql,
      repos,
      inbox: repos.inboundEvents,
      api: new BitrixClient({ portals: repos.portals, cache: services.cache, allowHttp: true }),
      callWithToken,
      keys: secrets,
      cache: services.cache,
      files: services.files,
      log,
      config: { publicUrl: 'http://127.0.0.1:9', allowHttpPortals: true },
    },
    log,
    metrics: createMetrics('test'),
    fileUrlTtlSeconds: 60,
    connectors,
    leases: { ttlMs: 4_000, renewEveryMs: 500, safetyMarginMs: 1_500 },
    reloginPollMs: 500,
  })
  admin = createAdminRoutes({
    sql: db.sql,
    repos,
    keys: secrets,
    connectors,
    log,
    accountControl: background.accountControl,
  })
  token = generateToken()
  await ensureAdminToken(db.sql, token)
  portalId = (await seedPortal(repos)).id
}, 30_000)

afterAll(async () => {
  await background?.stop()
  await db?.drop()
  rmSync(filesDir, { recursive: true, force: true })
}, 30_000)

async function call(path: string, body: unknown = {}) {
  const res = await admin.request(path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Loose }
}

/** Rows of the Telegram session tables: of one account, or of all. */
async function telegramRows(accountId?: string): Promise<number> {
  const filter = accountId ? db.sql`where account_id = ${accountId}` : db.sql``
  const [row] = await db.sql<{ n: number }[]>`
    select ((select count(*) from telegram_auth_keys ${filter})
      + (select count(*) from telegram_kv ${filter})
      + (select count(*) from telegram_peers ${filter}))::int as n`
  return row!.n
}

const healthIs = (accountId: string, health: AccountHealth) =>
  until(`account ${health}`, async () =>
    (await repos.accounts.get(accountId)).health === health ? true : undefined,
  )

/** Customer messages the relay recorded for the account. */
async function received(accountId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from messages where account_id = ${accountId} and direction = 'in'`
  return row!.n
}

describe('connecting a new Telegram account through the admin API', () => {
  const phone = `7997${String(process.pid % 1000).padStart(3, '0')}2001`

  test('phone → code → 2FA → complete: stored, started, online, and its messages arrive', async () => {
    const person = tg.world.addAccount({ firstName: 'Shop', phone, password: 'correct horse' })
    const rowsBefore = await telegramRows()

    const opened = await call('/api/v1/accounts', { portalId, messenger: 'telegram', flow: 'phone' })
    expect(opened.status).toBe(201)
    expect(opened.body.step.stepId).toBe('telegram.phone')
    const { loginId } = opened.body
    const code = await call(`/api/v1/logins/${loginId}/steps`, { input: { phone: `+${phone}` } })
    expect(code.status).toBe(200)
    expect(code.body.step.stepId).toBe('telegram.code')
    const password = await call(`/api/v1/logins/${loginId}/steps`, {
      input: { code: tg.world.codes.get(phone)!.code },
    })
    expect(password.status).toBe(200)
    expect(password.body.step.stepId).toBe('telegram.password')
    expect(await telegramRows()).toBe(rowsBefore)

    const done = await call(`/api/v1/logins/${loginId}/steps`, { input: { password: 'correct horse' } })
    expect(done.status).toBe(200)
    expect(done.body.step.type).toBe('complete')
    expect(done.body.started).toBe(true)
    const account = done.body.account
    expect(account).toMatchObject({
      portalId,
      messenger: 'telegram',
      displayName: 'Shop',
      remoteId: String(person.user.id),
    })

    await healthIs(account.id, 'online')
    expect(await telegramRows(account.id)).toBeGreaterThan(0)
    expect(await repos.accountSessions.get(account.id, 'telegram.staged')).toBeUndefined()
    expect(await repos.accountSessions.getText(account.id, 'telegram.user')).toBe(String(person.user.id))
    // The runtime's client went on with the login's authorization: one session at Telegram, not two.
    expect([...tg.world.authorizations.values()].filter((owner) => owner === person)).toHaveLength(1)
    expect(person.duplicatedSessions).toBe(0)

    const customer = tg.world.addUser({ firstName: 'Alice' })
    tg.world.customerSends(phone, customer, 'hello shop')
    await until('the message relayed', async () => ((await received(account.id)) === 1 ? true : undefined))
  }, 30_000)
})
