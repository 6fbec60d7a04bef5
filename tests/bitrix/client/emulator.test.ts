/**
 * BitrixClient end to end against the portal emulator (tests/emulators/bitrix24/), over real HTTP, with the
 * portal stored through the real repository. The verdicts are the emulator's own counters (requests, 401s,
 * 503s, 429s, OAuth refreshes), not the client's view of itself.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { PortalNeedsReauthError } from '../../../src/bitrix/api.ts'
import { callWithToken } from '../../../src/bitrix/client/http.ts'
import { BitrixClient, type BitrixClientOptions } from '../../../src/bitrix/client/rest-client.ts'
import type { Cache } from '../../../storage/cache/cache.ts'
import { MemoryCache } from '../../../storage/cache/memory-cache.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import type { Portal } from '../../../storage/repos/portals.ts'
import {
  type Bitrix24Emulator,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  type EmulatorOptions,
  startBitrix24Emulator,
} from '../../emulators/bitrix24/index.ts'
import { repositories } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

interface Counters {
  requests: number
  status401: number
  status429: number
  status503: number
  oauthRefreshes: number
}

let db: TestDatabase
let repos: Repositories
let emulator: Bitrix24Emulator
let cache: Cache
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
})
afterAll(() => db.drop())
afterEach(async () => {
  await emulator?.stop()
  await cache?.close()
})

/** Starts the emulator, installs the app there and stores the portal with the tokens the emulator issued. */
async function start(options: EmulatorOptions = {}): Promise<Portal> {
  emulator = await startBitrix24Emulator({ rateLimit: { burst: 1000, drainPerSecond: 1000 }, ...options })
  cache = new MemoryCache()
  await emulator.install({ restOnly: true })
  const issued = await emulator.issueTokens()
  const [info] = emulator.portals
  const { portal } = await repos.portals.upsert({
    memberId: info!.memberId,
    domain: info!.domain,
    clientEndpoint: String(issued.client_endpoint),
    serverEndpoint: String(issued.server_endpoint),
    accessToken: String(issued.access_token),
    refreshToken: String(issued.refresh_token),
    tokenExpiresAt: new Date(Number(issued.expires) * 1000),
  })
  await emulator.resetStats()
  return portal
}

function client(options: Partial<BitrixClientOptions> = {}) {
  return new BitrixClient({
    portals: repos.portals,
    cache,
    app: { clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET },
    allowHttp: true,
    budget: {
      backoff: { baseMs: 20, maxMs: 200 },
      plans: { standard: { burst: 1000, drainPerSecond: 1000 } },
    },
    ...options,
  })
}

const counters = () => emulator.stats() as unknown as Counters

describe('BitrixClient against the portal emulator', () => {
  test('app.info answers for our app', async () => {
    const portal = await start()
    const info = await client().call<{ INSTALLED: boolean }>(portal.id, 'app.info')
    expect(info.INSTALLED).toBe(true)
    expect(counters().requests).toBe(1)
  })

  test('50 concurrent calls on an expired token: exactly one refresh reaches the OAuth server', async () => {
    const portal = await start()
    await emulator.expireAccessTokens()
    const bitrix = client()
    const results = await Promise.all(Array.from({ length: 50 }, () => bitrix.call(portal.id, 'app.info')))
    expect(results).toHaveLength(50)
    // However many of them reach the portal with the dead token, each is repeated once after one refresh.
    const seen = counters()
    expect(seen.oauthRefreshes).toBe(1)
    expect(seen.status401).toBeGreaterThanOrEqual(1)
    expect(seen.requests).toBe(50 + seen.status401)
    const stored = await repos.portals.get(portal.id)
    expect(stored.accessToken).not.toBe(portal.accessToken)
  })

  test('a dead refresh token: needs_reauth, and calls stop before the network', async () => {
    const portal = await start()
    await emulator.expireAccessTokens()
    await emulator.revokeRefreshTokens()
    const bitrix = client()
    await expect(bitrix.call(portal.id, 'app.info')).rejects.toBeInstanceOf(PortalNeedsReauthError)
    expect((await repos.portals.get(portal.id)).status).toBe('needs_reauth')
    const before = counters().requests
    await expect(bitrix.call(portal.id, 'app.info')).rejects.toBeInstanceOf(PortalNeedsReauthError)
    expect(counters().requests).toBe(before)
  })

  test('120 calls on a portal with burst 10 / 50 per s: zero 503s', async () => {
    const portal = await start({ rateLimit: { burst: 10, drainPerSecond: 50 } })
    const bitrix = client({ budget: { plans: { standard: { burst: 10, drainPerSecond: 50 } } } })
    await Promise.all(Array.from({ length: 120 }, () => bitrix.call(portal.id, 'user.admin')))
    expect(counters()).toMatchObject({ requests: 120, status503: 0 })
  })

  test('access tokens expiring in the middle of a throttled burst: one refresh, nothing lost', async () => {
    const portal = await start({ rateLimit: { burst: 10, drainPerSecond: 50 } })
    const bitrix = client({ budget: { plans: { standard: { burst: 10, drainPerSecond: 50 } } } })
    const calls = Array.from({ length: 60 }, () => bitrix.call<boolean>(portal.id, 'user.admin'))
    await Bun.sleep(400)
    await emulator.expireAccessTokens()
    const results = await Promise.all(calls)
    expect(results.every((r) => r === true)).toBe(true)
    const seen = counters()
    expect(seen.oauthRefreshes).toBe(1)
    expect(seen.status401).toBeGreaterThan(0)
    // Every refused request (401, or a 503 should a loaded test machine bunch requests up) is sent once more;
    // nothing else is sent twice.
    expect(seen.requests).toBe(60 + seen.status401 + seen.status503)
  })

  test('time.operating near the limit: the method pauses until the reset instead of hitting 429', async () => {
    const portal = await start({
      operationLimit: { limitSeconds: 10, costSeconds: { 'user.admin': 3 }, bucketMs: 500, buckets: 2 },
    })
    const bitrix = client({
      budget: {
        operatingLimitSeconds: 10,
        plans: { standard: { burst: 1000, drainPerSecond: 1000 } },
      },
    })
    for (let i = 0; i < 6; i++) expect(await bitrix.call(portal.id, 'user.admin')).toBe(true)
    expect(counters()).toMatchObject({ requests: 6, status429: 0 })
  })

  test('one batch of 50 commands is one request', async () => {
    const portal = await start()
    const commands = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`c${i}`, { method: i % 2 ? 'app.info' : 'user.admin' }]),
    )
    const { results, errors } = await client().batch(portal.id, commands)
    expect(Object.keys(results)).toHaveLength(50)
    expect(errors).toEqual({})
    expect(results.c0).toBe(true)
    expect(counters().requests).toBe(1)
  })

  test('callWithToken checks tokens of a portal not stored yet', async () => {
    emulator = await startBitrix24Emulator()
    cache = new MemoryCache()
    await emulator.install({ restOnly: true })
    const issued = await emulator.issueTokens()
    const clientEndpoint = String(issued.client_endpoint)
    const info = await callWithToken<{ INSTALLED: boolean }>({
      clientEndpoint,
      accessToken: String(issued.access_token),
      method: 'app.info',
      allowHttp: true,
    })
    expect(info.INSTALLED).toBe(true)
    await expect(
      callWithToken({ clientEndpoint, accessToken: 'forged', method: 'app.info', allowHttp: true }),
    ).rejects.toMatchObject({ status: 401 })
  })
})
