/**
 * BitrixClient end to end over real HTTP against a fake portal (tests/bitrix/client/fake-portal.ts, answering
 * as reference/bitrix24.md documents) with portals stored through the real repository.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { randomUUID } from 'node:crypto'
import { Registry } from 'prom-client'
import {
  BitrixError,
  BitrixTransportError,
  PortalInactiveError,
  PortalNeedsReauthError,
} from '../../../src/bitrix/api.ts'
import { callWithToken } from '../../../src/bitrix/client/http.ts'
import type { PortalStore } from '../../../src/bitrix/client/oauth.ts'
import { BitrixClient, type BitrixClientOptions } from '../../../src/bitrix/client/rest-client.ts'
import type { Cache } from '../../../storage/cache/cache.ts'
import { MemoryCache } from '../../../storage/cache/memory-cache.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { repositories } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { FakePortal } from './fake-portal.ts'
import { installPortal, MARKETPLACE } from './support.ts'

let db: TestDatabase
let repos: Repositories
let fake: FakePortal
let cache: Cache
let registry: Registry
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
})
afterAll(() => db.drop())
afterEach(async () => {
  fake?.stop()
  await cache?.close()
})

/** A fast budget (no portal-side bucket unless a test sets one) and short backoffs. */
function client(options: Partial<BitrixClientOptions> = {}, portals: PortalStore = repos.portals) {
  registry = new Registry()
  return new BitrixClient({
    portals,
    cache,
    app: MARKETPLACE,
    allowHttp: true,
    registry,
    budget: {
      plans: { standard: { burst: 200, drainPerSecond: 2000 } },
      backoff: { baseMs: 20, maxMs: 100 },
    },
    ...options,
  })
}

function setUp(options?: ConstructorParameters<typeof FakePortal>[0]) {
  fake = new FakePortal(options)
  cache = new MemoryCache()
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
  const value = found?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
  return value?.value ?? 0
}

describe('BitrixClient.call', () => {
  test('POSTs JSON with auth in the body to <client_endpoint><method> and returns result', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('imopenlines.config.list.get', (body) => ({
      json: { result: [{ ID: '1', params: body.PARAMS }], time: {} },
    }))
    const result = await client().call(portal.id, 'imopenlines.config.list.get', {
      PARAMS: { select: ['ID'] },
    })
    expect(result).toEqual([{ ID: '1', params: { select: ['ID'] } }])
    expect(fake.requests).toHaveLength(1)
    expect(fake.requests[0]!.body).toEqual({ PARAMS: { select: ['ID'] }, auth: portal.accessToken })
    expect(
      await metric('olchat_bitrix_calls_total', { method: 'imopenlines.config.list.get', outcome: 'ok' }),
    ).toBe(1)
  })

  test('REST errors are typed: code, description, status, method', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('imconnector.activate', () => ({
      status: 400,
      json: { error: 'ERROR_ARGUMENT', error_description: "Argument 'LINE' is null or empty" },
    }))
    const error = await client()
      .call(portal.id, 'imconnector.activate', {}, { idempotent: true })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BitrixError)
    expect(error).toMatchObject({
      code: 'ERROR_ARGUMENT',
      description: "Argument 'LINE' is null or empty",
      status: 400,
      method: 'imconnector.activate',
    })
    expect(fake.requests).toHaveLength(1)
  })

  test('a method name that is not one is refused locally', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    expect(client().call(portal.id, '../oauth/token')).rejects.toMatchObject({ code: 'INVALID_METHOD' })
    expect(fake.requests).toHaveLength(0)
  })
})

describe('tokens', () => {
  test('50 concurrent calls that all see expired_token: exactly one refresh, all succeed', async () => {
    setUp()
    fake.refreshDelayMs = 30
    const portal = await installPortal(repos, fake)
    fake.expireAll()
    // Records when the new pair is stored and when the portal first sees it.
    const log: string[] = []
    const portals: PortalStore = {
      get: (id, q) => repos.portals.get(id, q),
      setStatus: (id, s, q) => repos.portals.setStatus(id, s, q),
      updateTokens: async (id, tokens, q) => {
        await repos.portals.updateTokens(id, tokens, q)
        log.push(`stored ${tokens.accessToken}`)
      },
    }
    fake.scripts.set('m', (body) => {
      log.push(`used ${body.auth}`)
      return undefined
    })
    const bitrix = client({}, portals)
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => bitrix.call<{ n: number }>(portal.id, 'm', { n })),
    )
    expect(results.map((r) => r.n)).toEqual([...Array(50).keys()])
    expect(fake.refreshes).toHaveLength(1)
    expect(fake.calls('m').filter((r) => r.status === 401)).toHaveLength(50)
    expect(fake.calls('m').filter((r) => r.status === 200)).toHaveLength(50)
    const stored = await repos.portals.get(portal.id)
    expect(log[0]).toBe(`stored ${stored.accessToken}`)
    expect(log.slice(1).every((line) => line === `used ${stored.accessToken}`)).toBe(true)
    expect(await metric('olchat_bitrix_token_refreshes_total', { outcome: 'ok' })).toBe(1)
    expect(await metric('olchat_bitrix_retries_total', { reason: 'expired_token' })).toBe(50)
  })

  test('a token about to expire is refreshed before the call: the portal never says expired_token', async () => {
    setUp()
    const portal = await installPortal(repos, fake, { expiresInMs: 20_000 })
    await Promise.all(Array.from({ length: 10 }, (_, n) => client().call(portal.id, 'm', { n })))
    expect(fake.refreshes).toHaveLength(1)
    expect(fake.requests.every((r) => r.status === 200)).toBe(true)
  })

  test('401 again after a refresh is thrown, not looped on', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('m', () => ({ status: 401, json: { error: 'invalid_token', error_description: 'x' } }))
    const error = await client()
      .call(portal.id, 'm')
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'invalid_token', status: 401 })
    expect(fake.refreshes).toHaveLength(1)
    expect(fake.calls('m')).toHaveLength(2)
  })

  test('invalid_grant: needs_reauth, every waiting call fails with PortalNeedsReauthError, then fast', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.expireAll()
    fake.refresh.clear()
    const bitrix = client()
    const errors = await Promise.all(
      Array.from({ length: 10 }, (_, n) => bitrix.call(portal.id, 'm', { n }).catch((e: unknown) => e)),
    )
    for (const error of errors) expect(error).toBeInstanceOf(PortalNeedsReauthError)
    expect((await repos.portals.get(portal.id)).status).toBe('needs_reauth')
    const seen = fake.requests.length
    await expect(bitrix.call(portal.id, 'm')).rejects.toBeInstanceOf(PortalNeedsReauthError)
    expect(fake.requests).toHaveLength(seen)
    expect(fake.refreshes).toHaveLength(1)
    expect(await metric('olchat_bitrix_calls_total', { method: 'm', outcome: 'needs_reauth' })).toBe(11)
  })

  test('uninstalled or unknown portals: PortalInactiveError without touching the network', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    await repos.portals.setStatus(portal.id, 'uninstalled')
    const bitrix = client()
    await expect(bitrix.call(portal.id, 'm')).rejects.toBeInstanceOf(PortalInactiveError)
    await expect(bitrix.batch(portal.id, { a: { method: 'm' } })).rejects.toBeInstanceOf(PortalInactiveError)
    await expect(bitrix.call(randomUUID(), 'm')).rejects.toBeInstanceOf(PortalInactiveError)
    expect(fake.requests).toHaveLength(0)
  })
})

describe('rate budget over HTTP', () => {
  test('120 calls on a portal enforcing burst 10 / 50 per s: zero 503s, all answered, FIFO', async () => {
    setUp({ bucket: { burst: 10, drainPerSecond: 50 } })
    const portal = await installPortal(repos, fake)
    const bitrix = client({ budget: { plans: { standard: { burst: 10, drainPerSecond: 50 } } } })
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, n) => bitrix.call<{ n: number }>(portal.id, 'm', { n })),
    )
    expect(results.map((r) => r.n)).toEqual([...Array(120).keys()])
    expect(fake.rejected503).toBe(0)
    expect(fake.requests).toHaveLength(120)
    // Admission is FIFO (rate-budget.test.ts checks it exactly). Requests admitted together travel in parallel
    // (token read, separate connections), so arrival can differ within one burst's width (8), never more.
    const arrival = fake.requests.map((r) => Number(r.body.n))
    for (const [position, n] of arrival.entries()) expect(Math.abs(position - n)).toBeLessThanOrEqual(8)
    expect(await metric('olchat_bitrix_throttle_waits_total', { reason: 'bucket' })).toBeGreaterThan(0)
  })

  test("the bucket follows the portal's rate plan", async () => {
    setUp()
    const portal = await installPortal(repos, fake, { ratePlan: 'enterprise' })
    const bitrix = client({
      budget: {
        plans: { standard: { burst: 1, drainPerSecond: 1 }, enterprise: { burst: 500, drainPerSecond: 500 } },
      },
    })
    const started = performance.now()
    await Promise.all(Array.from({ length: 20 }, (_, n) => bitrix.call(portal.id, 'm', { n })))
    expect(performance.now() - started).toBeLessThan(1000)
  })

  test('a budget that overestimates the portal: 503s are absorbed, nothing lost or doubled', async () => {
    setUp({ bucket: { burst: 10, drainPerSecond: 50 } })
    const portal = await installPortal(repos, fake)
    const bitrix = client({
      budget: {
        plans: { standard: { burst: 30, drainPerSecond: 100 } },
        burstFraction: 1,
        drainFraction: 1,
        backoff: { baseMs: 20, maxMs: 100 },
      },
    })
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) => bitrix.call<{ n: number }>(portal.id, 'm', { n })),
    )
    expect(results.map((r) => r.n)).toEqual([...Array(60).keys()])
    expect(fake.rejected503).toBeGreaterThan(0)
    const answered = fake.requests.filter((r) => r.status === 200).map((r) => Number(r.body.n))
    expect(answered.sort((a, b) => a - b)).toEqual([...Array(60).keys()])
  })

  test('503 QUERY_LIMIT_EXCEEDED twice, then 200: the call succeeds and keeps its place', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    let refusals = 2
    fake.scripts.set('imconnector.send.messages', () =>
      refusals-- > 0
        ? { status: 503, json: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many' } }
        : undefined,
    )
    // One request per 50 ms, so a refusal comes back before the next request is sent.
    const bitrix = client({
      budget: {
        plans: { standard: { burst: 1, drainPerSecond: 20 } },
        burstFraction: 1,
        drainFraction: 1,
        backoff: { baseMs: 20, maxMs: 100 },
      },
    })
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, n) =>
        bitrix.call<{ n: number }>(portal.id, 'imconnector.send.messages', { n }, { idempotent: false }),
      ),
    )
    expect(results.map((r) => r.n)).toEqual([0, 1, 2, 3, 4])
    expect(fake.requests.map((r) => [r.body.n, r.status])).toEqual([
      [0, 503],
      [0, 503],
      [0, 200],
      [1, 200],
      [2, 200],
      [3, 200],
      [4, 200],
    ])
    expect(await metric('olchat_bitrix_retries_total', { reason: 'rate_limit' })).toBe(2)
  })

  test('a plain 503 (no Bitrix body) is backed off and retried too', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    let refusals = 1
    fake.scripts.set('m', () =>
      refusals-- > 0 ? { status: 503, json: '<html>Service Unavailable</html>' } : undefined,
    )
    expect(await client().call(portal.id, 'm', { n: 1 })).toEqual({ method: 'm', n: 1 })
    expect(fake.calls('m').map((r) => r.status)).toEqual([503, 200])
  })

  test('503 without end: thrown after maxThrottleRetries', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('m', () => ({
      status: 503,
      json: { error: 'QUERY_LIMIT_EXCEEDED', error_description: '' },
    }))
    const bitrix = client({
      maxThrottleRetries: 2,
      budget: {
        burstFraction: 1,
        drainFraction: 1,
        plans: { standard: { burst: 10, drainPerSecond: 1000 } },
      },
    })
    const error = await bitrix.call(portal.id, 'm').catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', status: 503 })
    expect(fake.calls('m')).toHaveLength(3)
    expect(await metric('olchat_bitrix_calls_total', { method: 'm', outcome: 'throttled' })).toBe(1)
  })

  test('429 OPERATION_TIME_LIMIT: that method pauses and is retried; other methods pass meanwhile', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    let refusals = 1
    fake.scripts.set('slow.method', () =>
      refusals-- > 0
        ? {
            status: 429,
            json: {
              error: 'OPERATION_TIME_LIMIT',
              error_description: 'Method is blocked due to operation time limit.',
            },
          }
        : undefined,
    )
    const bitrix = client({
      budget: {
        plans: { standard: { burst: 200, drainPerSecond: 2000 } },
        backoff: { baseMs: 300, maxMs: 300 },
      },
    })
    const slow = bitrix.call(portal.id, 'slow.method', { n: 'slow' })
    await Bun.sleep(30)
    expect(bitrix.budget.methodPausedUntil(portal.id, 'slow.method')).toBeDefined()
    await bitrix.call(portal.id, 'other.method', { n: 'other' })
    await slow
    const answered = fake.requests.filter((r) => r.status === 200).map((r) => r.body.n)
    expect(answered).toEqual(['other', 'slow'])
    expect(fake.calls('slow.method').map((r) => r.status)).toEqual([429, 200])
  })

  test('time.operating near the limit pauses that method until operating_reset_at', async () => {
    const resetAt = Date.now() / 1000 + 0.5
    setUp({ operating: (method) => (method === 'heavy.method' ? 400 : 1), operatingResetAt: () => resetAt })
    const portal = await installPortal(repos, fake)
    const bitrix = client()
    await bitrix.call(portal.id, 'heavy.method', { n: 1 })
    const started = Date.now()
    const heavy = bitrix.call(portal.id, 'heavy.method', { n: 2 }).then(() => Date.now())
    await bitrix.call(portal.id, 'light.method', { n: 3 })
    expect(Date.now() - started).toBeLessThan(200)
    expect(await heavy).toBeGreaterThanOrEqual(resetAt * 1000 - 5)
    expect(fake.requests.map((r) => r.body.n)).toEqual([1, 3, 2])
  })
})

describe('timeouts and lost answers', () => {
  test('a hanging portal: each attempt times out; an idempotent call is retried', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('event.bind', () => ({ hang: true }))
    const started = performance.now()
    const error = await client({ maxTransportRetries: 2 })
      .call(portal.id, 'event.bind', {}, { timeoutMs: 150, idempotent: true })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BitrixTransportError)
    expect(error).toMatchObject({ code: 'TIMEOUT', maybeExecuted: true, method: 'event.bind' })
    expect(fake.calls('event.bind')).toHaveLength(3)
    expect(performance.now() - started).toBeGreaterThanOrEqual(450)
  })

  test('a non-idempotent call is not repeated after a timeout', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('imconnector.send.messages', () => ({ hang: true }))
    const error = await client()
      .call(portal.id, 'imconnector.send.messages', {}, { timeoutMs: 150 })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'TIMEOUT', maybeExecuted: true })
    expect(fake.calls('imconnector.send.messages')).toHaveLength(1)
  })

  test('502/504 are ambiguous: repeated only when idempotent', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('m', () => ({ status: 502, json: 'Bad Gateway' }))
    const bitrix = client({ maxTransportRetries: 1 })
    await expect(bitrix.call(portal.id, 'm')).rejects.toMatchObject({ code: 'BAD_GATEWAY', status: 502 })
    expect(fake.calls('m')).toHaveLength(1)
    await expect(bitrix.call(portal.id, 'm', {}, { idempotent: true })).rejects.toBeInstanceOf(
      BitrixTransportError,
    )
    expect(fake.calls('m')).toHaveLength(3)
  })

  test('connection refused ran nothing: repeated even for a non-idempotent call', async () => {
    setUp()
    const portal = await installPortal(repos, fake, { clientEndpoint: 'http://127.0.0.1:1/rest/' })
    const bitrix = client({ maxTransportRetries: 2 })
    const error = await bitrix.call(portal.id, 'imconnector.send.messages').catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', maybeExecuted: false })
    expect(await metric('olchat_bitrix_retries_total', { reason: 'transport' })).toBe(2)
    expect(
      await metric('olchat_bitrix_calls_total', {
        method: 'imconnector.send.messages',
        outcome: 'transport',
      }),
    ).toBe(1)
  })
})

describe('BitrixClient.batch', () => {
  test('one request; commands as method?PHP-query; results and per-command errors parsed', async () => {
    setUp({ operating: (method) => (method === 'imconnector.send.status.delivery' ? 420 : 0.5) })
    const portal = await installPortal(repos, fake)
    fake.scripts.set('imconnector.status', () => ({
      status: 400,
      json: { error: 'ERROR_ARGUMENT', error_description: "Argument 'LINE' is null or empty" },
    }))
    const bitrix = client()
    const result = await bitrix.batch(portal.id, {
      info: { method: 'app.info' },
      delivered: {
        method: 'imconnector.send.status.delivery',
        params: { CONNECTOR: 'olchat_telegram', LINE: 3, MESSAGES: [{ im: { chat_id: 7, message_id: 9 } }] },
      },
      status: { method: 'imconnector.status', params: { CONNECTOR: 'olchat_telegram' } },
    })
    expect(result.results).toEqual({
      info: { method: 'app.info', n: null },
      delivered: { method: 'imconnector.send.status.delivery', n: null },
    })
    expect(result.errors).toEqual({
      status: { error: 'ERROR_ARGUMENT', description: "Argument 'LINE' is null or empty" },
    })
    expect(fake.requests).toHaveLength(1)
    expect(fake.requests[0]!.body).toEqual({
      halt: 0,
      cmd: {
        info: 'app.info',
        delivered:
          'imconnector.send.status.delivery?CONNECTOR=olchat_telegram&LINE=3' +
          '&MESSAGES[0][im][chat_id]=7&MESSAGES[0][im][message_id]=9',
        status: 'imconnector.status?CONNECTOR=olchat_telegram',
      },
      auth: portal.accessToken,
    })
    // Inner calls count against their own method's execution time (§4.6).
    expect(bitrix.budget.methodPausedUntil(portal.id, 'imconnector.send.status.delivery')).toBeDefined()
    expect(bitrix.budget.methodPausedUntil(portal.id, 'app.info')).toBeUndefined()
  })

  test('halt stops at the first error', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('bad', () => ({
      status: 400,
      json: { error: 'ERROR_ARGUMENT', error_description: 'x' },
    }))
    const result = await client().batch(
      portal.id,
      { a: { method: 'good' }, b: { method: 'bad' }, c: { method: 'good' } },
      { halt: true },
    )
    expect(Object.keys(result.results)).toEqual(['a'])
    expect(Object.keys(result.errors)).toEqual(['b'])
    expect(fake.requests[0]!.body.halt).toBe(1)
  })

  test('PHP lists (numeric keys) come back as JSON arrays and are keyed again', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.scripts.set('batch', () => ({
      json: {
        result: {
          result: [true, { ID: 5 }],
          result_error: [],
          result_total: [],
          result_next: [],
          result_time: [],
        },
        time: {},
      },
    }))
    const result = await client().batch(portal.id, { 0: { method: 'a' }, 1: { method: 'b' } })
    expect(result).toEqual({ results: { 0: true, 1: { ID: 5 } }, errors: {} })
  })

  test('more than 50 commands or a nested batch are refused locally; none is a no-op', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    const bitrix = client()
    const commands = Object.fromEntries(
      Array.from({ length: 51 }, (_, i) => [`c${i}`, { method: 'app.info' }]),
    )
    await expect(bitrix.batch(portal.id, commands)).rejects.toMatchObject({
      code: 'ERROR_BATCH_LENGTH_EXCEEDED',
    })
    await expect(bitrix.batch(portal.id, { a: { method: 'batch' } })).rejects.toMatchObject({
      code: 'ERROR_BATCH_METHOD_NOT_ALLOWED',
    })
    expect(await bitrix.batch(portal.id, {})).toEqual({ results: {}, errors: {} })
    expect(fake.requests).toHaveLength(0)
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`c${i}`, { method: 'app.info' }]))
    expect(Object.keys((await bitrix.batch(portal.id, fifty)).results)).toHaveLength(50)
    expect(fake.requests).toHaveLength(1)
  })

  test('a batch counts once against the bucket and waits for the portal like a call', async () => {
    // 300 sub-calls through a bucket of 3: only possible because each batch counts once (§4.5).
    setUp({ bucket: { burst: 3, drainPerSecond: 20 } })
    const portal = await installPortal(repos, fake)
    const bitrix = client({ budget: { plans: { standard: { burst: 3, drainPerSecond: 20 } } } })
    const commands = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`c${i}`, { method: 'app.info' }]),
    )
    const results = await Promise.all(Array.from({ length: 6 }, () => bitrix.batch(portal.id, commands)))
    expect(results.every((r) => Object.keys(r.results).length === 50)).toBe(true)
    expect(fake.requests).toHaveLength(6)
    expect(fake.rejected503).toBe(0)
  })
})

describe('https and callWithToken', () => {
  test('http portal endpoints are refused unless OLCHAT_ALLOW_HTTP_PORTALS', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    const error = await client({ allowHttp: false })
      .call(portal.id, 'app.info')
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'INSECURE_ENDPOINT', method: 'app.info' })
    expect(fake.requests).toHaveLength(0)
  })

  test('callWithToken verifies tokens of a portal not stored yet (install handler)', async () => {
    setUp()
    const pair = fake.issue()
    fake.scripts.set('app.info', () => ({
      json: { result: { ID: 5, CODE: 'vendor.olchat', INSTALLED: true }, time: {} },
    }))
    const info = await callWithToken({
      clientEndpoint: fake.clientEndpoint,
      accessToken: pair.accessToken,
      method: 'app.info',
      allowHttp: true,
    })
    expect(info).toEqual({ ID: 5, CODE: 'vendor.olchat', INSTALLED: true })
    expect(fake.requests[0]!.body).toEqual({ auth: pair.accessToken })
    await expect(
      callWithToken({
        clientEndpoint: fake.clientEndpoint,
        accessToken: 'forged',
        method: 'app.info',
        allowHttp: true,
      }),
    ).rejects.toMatchObject({ code: 'invalid_token', status: 401 })
    await expect(
      callWithToken({
        clientEndpoint: fake.clientEndpoint,
        accessToken: pair.accessToken,
        method: 'app.info',
      }),
    ).rejects.toMatchObject({ code: 'INSECURE_ENDPOINT' })
    expect(fake.requests).toHaveLength(2)
  })
})
