/**
 * `POST /max/webhook/:accountId` over a real HTTP listener and a real database: the secret is checked before
 * anything is read or stored, non-JSON is 400, unknown or unreadable updates are 200 and counted, a repeated
 * delivery is stored once and wakes the owner once, and the stored body is sealed; a delivery racing a
 * logout leaves no row behind.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Registry } from 'prom-client'
import { maxMetrics } from '../../src/connectors/max/metrics.ts'
import { SESSION_KEYS } from '../../src/connectors/max/session.ts'
import { createMaxWebhookRoutes, MAX_SECRET_HEADER, secretsMatch } from '../../src/http/max-webhook.ts'
import { createLogger } from '../../src/log/logger.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { rawText, repositories, seedPortal } from '../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const SECRET = 'webhook-Secret_0123456789abcdef'
let db: TestDatabase
let repos: Repositories
let server: ReturnType<typeof Bun.serve>
let accountId: string
const registry = new Registry()
const woken: string[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  const portal = await seedPortal(repos)
  const account = await repos.accounts.create({ portalId: portal.id, messenger: 'max' })
  accountId = account.id
  await repos.accountSessions.set(accountId, SESSION_KEYS.webhookSecret, SECRET)
  const app = createMaxWebhookRoutes({
    repos,
    metrics: maxMetrics(registry),
    log: createLogger({ level: 'silent' }),
    onStored: (id) => woken.push(id),
  })
  server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch })
})
afterAll(async () => {
  await server?.stop(true)
  await db?.drop()
})

const created = (mid: string, text = 'Здравствуйте, это секрет клиента') => ({
  update_type: 'message_created',
  timestamp: 1775025604499,
  message: {
    sender: { user_id: 123456789, first_name: 'John', is_bot: false },
    recipient: { chat_id: 182182182, chat_type: 'dialog', user_id: 229229229 },
    timestamp: 1775053255737,
    body: { mid, seq: 1, text, attachments: [], markup: [] },
  },
})

/** `secret: null` sends no header at all. */
function post(body: string, secret: string | null = SECRET, account = accountId) {
  return fetch(`${server.url}max/webhook/${account}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(secret === null ? {} : { [MAX_SECRET_HEADER]: secret }),
    },
    body,
  })
}

const stored = async () => {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from max_updates`
  return row!.n
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
  const value = (metric?.values as { labels: Record<string, string>; value: number }[] | undefined)?.find(
    (v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  )
  return value?.value ?? 0
}

describe('MAX webhook endpoint', () => {
  test('a wrong, missing or foreign secret is 401 and stores nothing', async () => {
    const body = JSON.stringify(created('mid.forged'))
    expect((await post(body, 'wrong-secret')).status).toBe(401)
    expect((await post(body, null)).status).toBe(401)
    expect((await post(body, SECRET, crypto.randomUUID())).status).toBe(401)
    expect((await post(body, SECRET, 'not-a-uuid')).status).toBe(401)
    // Garbage with a wrong secret is refused for the secret, before the body is read.
    expect((await post('{not json', 'wrong-secret')).status).toBe(401)
    expect(await stored()).toBe(0)
    expect(await counter('olchat_max_webhook_deliveries_total', { outcome: 'unauthorized' })).toBe(5)
  })

  test('a body that is not JSON is 400 and stores nothing', async () => {
    const res = await post('{"update_type": "message_created", ')
    expect(res.status).toBe(400)
    expect(await stored()).toBe(0)
  })

  test('an unknown update type and an unreadable known one are 200, counted, not stored', async () => {
    const unknown = await post(JSON.stringify({ update_type: 'future_thing', timestamp: 1, anything: [1] }))
    expect(unknown.status).toBe(200)
    const broken = await post(JSON.stringify({ update_type: 'message_created', timestamp: 1, message: 42 }))
    expect(broken.status).toBe(200)
    expect(await stored()).toBe(0)
    expect(await counter('olchat_max_updates_skipped_total', { reason: 'type:future_thing' })).toBe(1)
    expect(await counter('olchat_max_updates_skipped_total', { reason: 'malformed:message_created' })).toBe(1)
    expect(await counter('olchat_max_webhook_deliveries_total', { outcome: 'ignored' })).toBe(2)
  })

  test('a repeated delivery is stored once and wakes the owner once; the body is sealed', async () => {
    const body = JSON.stringify(created('mid.dup-1'))
    const first = await post(body)
    const second = await post(body)
    expect([first.status, second.status]).toEqual([200, 200])
    expect(await stored()).toBe(1)
    expect(woken).toEqual([accountId])
    expect(await counter('olchat_max_webhook_deliveries_total', { outcome: 'duplicate' })).toBe(1)
    expect(await rawText(db.sql, 'max_updates')).not.toContain('секрет клиента')
    const [pending] = await repos.maxUpdates.pending(accountId, undefined, 10)
    // The raw text is kept: the int64 `seq` is exact in what the owner reads back.
    expect(JSON.stringify(pending!.body)).toContain('mid.dup-1')
  })

  test('a delivery racing a logout leaves nothing behind: the logout waits for it, later ones get 401', async () => {
    const before = await stored()
    const input = (mid: string) => ({ accountId, key: `k:${mid}`, type: 'message_created', raw: '{}' })
    if (db.backend === 'real') {
      // The delivery's statement is under way (its transaction open) when the logout deletes the secret.
      let commit!: () => void
      const held = new Promise<void>((resolve) => {
        commit = resolve
      })
      const delivery = db.sql.begin(async (tx) => {
        const outcome = await repos.maxUpdates.insertWhileLive(input('race'), SESSION_KEYS.webhookSecret, tx)
        await held
        return outcome
      })
      await Bun.sleep(50)
      const logout = (async () => {
        await repos.accountSessions.delete(accountId, SESSION_KEYS.webhookSecret)
        return repos.maxUpdates.deleteAll(accountId)
      })()
      await Bun.sleep(100)
      commit()
      expect(await delivery).toEqual({ live: true, created: true })
      expect(await logout).toBe(before + 1)
    } else {
      await repos.accountSessions.delete(accountId, SESSION_KEYS.webhookSecret)
      await repos.maxUpdates.deleteAll(accountId)
    }
    expect(await stored()).toBe(0)
    expect(await repos.maxUpdates.insertWhileLive(input('late'), SESSION_KEYS.webhookSecret)).toEqual({
      live: false,
      created: false,
    })
    expect((await post(JSON.stringify(created('mid.after-logout')))).status).toBe(401)
    expect(await stored()).toBe(0)
    // Back as it was for the tests below.
    await repos.accountSessions.set(accountId, SESSION_KEYS.webhookSecret, SECRET)
  })

  test('a disconnected account accepts nothing (MAX then unsubscribes it)', async () => {
    await repos.accounts.setHealth(accountId, 'disconnecting')
    await repos.accounts.setHealth(accountId, 'disconnected')
    expect((await post(JSON.stringify(created('mid.late')))).status).toBe(401)
    expect(await stored()).toBe(0)
  })

  test('secrets compare equal only when equal, whatever their lengths', () => {
    expect(secretsMatch('abc', 'abc')).toBe(true)
    expect(secretsMatch('abc', 'abcd')).toBe(false)
    expect(secretsMatch(undefined, 'abc')).toBe(false)
    expect(secretsMatch('abc', undefined)).toBe(false)
  })
})
