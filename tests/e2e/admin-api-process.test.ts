/**
 * The admin API of a running Olchat process, as an operator uses it: a sandbox account is connected through
 * `/api/v1` login steps, the process's lease keeper starts it (health `online`), and a disconnect logs it out at
 * the messenger and deletes its session (R1, D2). The sandbox messenger runs as a real HTTP server; its own
 * counters give the verdicts about sessions and live connections.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { createRepositories, type Repositories } from '../../storage/repos/index.ts'
import { type SandboxMessenger, startSandbox } from '../emulators/sandbox/index.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { until } from '../support/until.ts'

const real = testBackendSet() === 'real'
const keyRing = `k1:${generateKey()}`
const adminToken = `support-${generateKey()}`
const phone = '+15550177001'

let db: TestDatabase
let repos: Repositories
let sandbox: SandboxMessenger
let olchat: OlchatProcess
let base: string
let portalId: string

async function api(method: string, path: string, body?: unknown, token: string | null = adminToken) {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

beforeAll(async () => {
  if (!real) return
  db = await createTestDatabase()
  repos = createRepositories(db.sql, KeyRing.fromText(keyRing))
  portalId = (await repos.portals.upsert({ memberId: `admin-e2e-${process.pid}`, domain: 'a.bitrix24.ru' }))
    .portal.id
  sandbox = await startSandbox()
  await sandbox.createAccount({ phone, name: 'Отдел продаж' })
  olchat = startOlchat({
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl,
    OLCHAT_ENCRYPTION_KEYS: keyRing,
    OLCHAT_ADMIN_TOKEN: adminToken,
    SANDBOX_URL: sandbox.url,
  })
  base = await olchat.baseUrl()
  await olchat.waitReady(20_000)
}, 30_000)

afterAll(async () => {
  if (!real) return
  expect(await olchat.stop()).toBe(0)
  await sandbox.stop()
  await db.drop()
}, 30_000)

describe.skipIf(!real)('admin API in a running process', () => {
  test('without a token: 401; with the support token: the API answers', async () => {
    expect((await api('GET', `/api/v1/accounts?portal=${portalId}`, undefined, null)).status).toBe(401)
    expect((await api('GET', `/api/v1/accounts?portal=${portalId}`, undefined, 'wrong-token')).status).toBe(
      401,
    )
    expect((await api('GET', `/api/v1/accounts?portal=${portalId}`)).status).toBe(200)
  })

  let accountId: string
  test('connect: login steps, then the account runs in this process and comes online', async () => {
    const created = await api('POST', '/api/v1/accounts', { portalId, messenger: 'sandbox' })
    expect(created.status).toBe(201)
    const { loginId } = (await created.json()) as { loginId: string }
    const codeStep = await api('POST', `/api/v1/logins/${loginId}/steps`, { input: { phone } })
    expect(codeStep.status).toBe(200)
    const { code } = sandbox.loginCode({ phone }) as { code: string }
    const done = await api('POST', `/api/v1/logins/${loginId}/steps`, { input: { code } })
    const body = (await done.json()) as { step: { type: string; accountId: string } }
    if (!body.step) throw new Error(`login step failed: ${done.status} ${JSON.stringify(body)}`)
    expect(body.step.type).toBe('complete')
    accountId = body.step.accountId
    const online = await until('the account online', async () => {
      const res = await api('GET', `/api/v1/accounts/${accountId}`)
      const account = (await res.json()) as { account?: { health: string }; health?: string }
      const health = account.account?.health ?? account.health
      return health === 'online' ? health : undefined
    })
    expect(online).toBe('online')
    expect((sandbox.stats() as { liveConnections: number }).liveConnections).toBe(1)
  })

  test('D2/R1: disconnect: logged out at the messenger, session, login and profile deleted, never picked up again', async () => {
    const before = await repos.accounts.get(accountId)
    expect(before.remoteId).not.toBeNull()
    expect(before.phone).not.toBeNull()
    const res = await api('POST', `/api/v1/accounts/${accountId}/disconnect`)
    expect(res.status).toBeLessThan(300)
    await until('the account disconnected', async () =>
      (await repos.accounts.get(accountId)).health === 'disconnected' ? true : undefined,
    )
    expect(await repos.accountSessions.list(accountId)).toEqual([])
    // The row stays for the metadata linked to it; nothing of the login or the person behind it does.
    const [row] = await db.sql`
      select remote_id, display_name, username, phone_enc, avatar_key, credentials_enc
      from accounts where id = ${accountId}`
    expect(row).toEqual({
      remoteId: null,
      displayName: null,
      username: null,
      phoneEnc: null,
      avatarKey: null,
      credentialsEnc: null,
    })
    await until('no live connection at the sandbox', async () =>
      (sandbox.stats() as { liveConnections: number }).liveConnections === 0 ? true : undefined,
    )
    const [lease] = await db.sql<{ owner: string | null }[]>`
      select owner from account_leases where account_id = ${accountId}`
    expect(lease!.owner).toBeNull()
    expect((sandbox.stats() as { authKeyDuplicated: number }).authKeyDuplicated).toBe(0)
  })
})
