/**
 * A re-login reaches the running system: the account's owner restarts its actor over the new session, and
 * an account nobody runs (disconnected) is taken by a lease keeper. The real background (lease keeper,
 * supervisor, account actors, relay) with the sandbox connector against the sandbox messenger, which revokes
 * the session; the admin API drives the login.
 *
 * On the real PostgreSQL the admin API belongs to a second instance that runs no accounts (capacity 0), so
 * the owner hears of the new login only through LISTEN/NOTIFY; embedded, one process does both.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { BitrixClient, callWithToken } from '../../src/bitrix/client/index.ts'
import type { ConnectorName, MessengerConnector } from '../../src/bridge/connector.ts'
import { SandboxConnector } from '../../src/connectors/sandbox/connector.ts'
import { createAdminRoutes, ensureAdminToken, generateToken } from '../../src/http/admin/index.ts'
import { createLogger } from '../../src/log/logger.ts'
import { createMetrics } from '../../src/metrics.ts'
import { type Background, startBackground } from '../../src/runtime/background.ts'
import type { Services } from '../../src/runtime/services.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import type { AccountHealth } from '../../storage/repos/accounts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { type SandboxMessenger, startSandbox } from '../emulators/sandbox/index.ts'
import type { Loose } from '../http/admin/harness.ts'
import { repositories, secrets, seedPortal } from '../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { until } from '../support/until.ts'

const LEASES = { ttlMs: 4_000, renewEveryMs: 500, safetyMarginMs: 1_500 }

let db: TestDatabase
let repos: Repositories
let sandbox: SandboxMessenger
let filesDir: string
let owner: Instance
let api: Instance
type App = { request(path: string, init?: RequestInit): Response | Promise<Response> }
let admin: App
/** The same API with an AccountControl that tells nobody of a new login: a lost wake-up. */
let unannounced: App
let token: string
let portalId: string

interface Instance {
  background: Background
  logged: string[]
}

function startInstance(
  services: Services,
  connectors: ReadonlyMap<ConnectorName, MessengerConnector>,
  capacity?: number,
): Instance {
  const logged: string[] = []
  const log = createLogger({
    destination: new Writable({
      write(chunk, _encoding, done) {
        logged.push(chunk.toString())
        done()
      },
    }),
  })
  const bitrix = {
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
  }
  const background = startBackground({
    services,
    repos,
    bitrix,
    log,
    metrics: createMetrics('test'),
    fileUrlTtlSeconds: 60,
    connectors,
    leases: capacity === undefined ? LEASES : { ...LEASES, capacity },
    reloginPollMs: 500,
  })
  return { background, logged }
}

beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  sandbox = await startSandbox({ rateLimit: null })
  filesDir = mkdtempSync(join(tmpdir(), 'olchat-relogin-'))
  const services: Services = {
    db: { sql: db.sql, kind: db.backend === 'embedded' ? 'embedded' : 'postgres', close: async () => {} },
    cache: new MemoryCache(),
    files: new LocalFileStore({ dir: filesDir, baseUrl: 'http://127.0.0.1:9', signingKey: randomBytes(32) }),
    keys: secrets,
    close: async () => {},
  }
  const connectors = new Map<ConnectorName, MessengerConnector>([
    ['sandbox', new SandboxConnector({ baseUrl: sandbox.url })],
  ])
  owner = startInstance(services, connectors)
  // Embedded PGlite is one process: there the owner serves the API too.
  api = db.backend === 'real' ? startInstance(services, connectors, 0) : owner
  const log = createLogger({ level: 'silent' })
  const deps = { sql: db.sql, repos, keys: secrets, connectors, log }
  admin = createAdminRoutes({ ...deps, accountControl: api.background.accountControl })
  const { start, stop } = api.background.accountControl
  unannounced = createAdminRoutes({ ...deps, accountControl: { start, stop, relogin: async () => {} } })
  token = generateToken()
  await ensureAdminToken(db.sql, token)
  portalId = (await seedPortal(repos)).id
}, 30_000)

afterAll(async () => {
  await owner?.background.stop()
  if (api !== owner) await api?.background.stop()
  await sandbox?.stop()
  await db?.drop()
  rmSync(filesDir, { recursive: true, force: true })
}, 30_000)

async function call(method: string, path: string, body?: unknown, app = admin) {
  const res = await app.request(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  })
  return { status: res.status, body: (await res.json()) as Loose }
}

/** Runs the sandbox phone flow of an opened login to its end. */
async function finish(opened: { status: number; body: Loose }, phone: string, app = admin) {
  expect(opened.status).toBe(201)
  const { loginId } = opened.body
  await call('POST', `/api/v1/logins/${loginId}/steps`, { input: { phone } }, app)
  const { code } = sandbox.loginCode({ phone }) as { code: string }
  return call('POST', `/api/v1/logins/${loginId}/steps`, { input: { code } }, app)
}

const healthIs = (accountId: string, health: AccountHealth) =>
  until(`account ${health}`, async () =>
    (await repos.accounts.get(accountId)).health === health ? true : undefined,
  )

const leaseOwner = async (accountId: string) => {
  const [lease] = await db.sql<{ owner: string | null }[]>`
    select owner from account_leases where account_id = ${accountId}`
  return lease!.owner
}

/** Customer messages the relay recorded for the account. */
const received = async (accountId: string) => {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from messages where account_id = ${accountId} and direction = 'in'`
  return row!.n
}

const sandboxAccount = (phone: string) => sandbox.state({ account: phone }).accounts[0]!

describe('a re-login reaches the running account', () => {
  let accountId: string
  const phone = `+1555${String(process.pid % 10_000).padStart(4, '0')}201`

  test('needs_login: the owner restarts the actor over the new session; online again, same chat', async () => {
    sandbox.createAccount({ phone, name: 'Shop' })
    const connected = await finish(
      await call('POST', '/api/v1/accounts', { portalId, messenger: 'sandbox' }),
      phone,
    )
    accountId = connected.body.account.id
    await healthIs(accountId, 'online')
    expect(await leaseOwner(accountId)).toBe(owner.background.instanceId)

    const customer = sandbox.createCustomer({ name: 'Customer' })
    await sandbox.customerSend({ customer: customer.id, account: phone, text: 'hello' })
    await until('the first message relayed', async () =>
      (await received(accountId)) === 1 ? true : undefined,
    )
    const chats = await db.sql<{ id: string }[]>`select id from chats where account_id = ${accountId}`
    expect(chats).toHaveLength(1)

    sandbox.revokeSession({ account: phone })
    await healthIs(accountId, 'needs_login')
    // Written while the account has no session: it must still arrive after the new login.
    await sandbox.customerSend({ customer: customer.id, account: phone, text: 'anyone?' })

    const done = await finish(await call('POST', `/api/v1/accounts/${accountId}/login`), phone)
    expect(done.status).toBe(200)
    expect(done.body.account).toMatchObject({ id: accountId, health: 'connecting' })
    expect(done.body.started).toBe(true)

    await healthIs(accountId, 'online')
    expect(owner.logged.join()).toContain('account restarted after a new login')
    expect(await leaseOwner(accountId)).toBe(owner.background.instanceId)
    await until('the message sent meanwhile relayed', async () =>
      (await received(accountId)) === 2 ? true : undefined,
    )
    expect(await db.sql`select id from chats where account_id = ${accountId}`).toEqual(chats)
    const stats = sandbox.stats()
    const perAccount = stats.perAccount[sandboxAccount(phone).id]!
    expect(perAccount).toMatchObject({ liveConnections: 1, sessions: 1, authKeyDuplicated: 0 })
  }, 30_000)

  test('disconnected: nobody runs it; after the new login a lease keeper takes it and it comes online', async () => {
    const disconnected = await call('POST', `/api/v1/accounts/${accountId}/disconnect`)
    expect(disconnected.status).toBe(200)
    await healthIs(accountId, 'disconnected')
    await until('the lease freed', async () => ((await leaseOwner(accountId)) === null ? true : undefined))
    expect(sandbox.stats().perAccount[sandboxAccount(phone).id]?.sessions ?? 0).toBe(0)

    const done = await finish(await call('POST', `/api/v1/accounts/${accountId}/login`), phone)
    expect(done.status).toBe(200)
    expect(done.body.account).toMatchObject({ id: accountId, health: 'connecting' })

    await healthIs(accountId, 'online')
    expect(await leaseOwner(accountId)).toBe(owner.background.instanceId)
    const perAccount = sandbox.stats().perAccount[sandboxAccount(phone).id]!
    expect(perAccount).toMatchObject({ liveConnections: 1, sessions: 1, authKeyDuplicated: 0 })
  }, 30_000)

  test('a new login whose wake-up was lost: the owner finds it by its poll and restarts the actor', async () => {
    await healthIs(accountId, 'online')
    sandbox.revokeSession({ account: phone })
    await healthIs(accountId, 'needs_login')
    const restartsBefore = owner.logged.filter((line) => line.includes('restarted after a new login')).length

    const opened = await call('POST', `/api/v1/accounts/${accountId}/login`, undefined, unannounced)
    const done = await finish(opened, phone, unannounced)
    expect(done.status).toBe(200)
    expect(done.body.started).toBe(true)

    await healthIs(accountId, 'online')
    const restarts = owner.logged.filter((line) => line.includes('restarted after a new login')).length
    expect(restarts).toBe(restartsBefore + 1)
    const perAccount = sandbox.stats().perAccount[sandboxAccount(phone).id]!
    expect(perAccount).toMatchObject({ liveConnections: 1, sessions: 1, authKeyDuplicated: 0 })
  }, 30_000)
})
