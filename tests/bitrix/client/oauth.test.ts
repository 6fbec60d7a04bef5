/**
 * TokenManager against a fake OAuth server and the real portals repository (sealed tokens in PostgreSQL or
 * PGlite): single-flight refresh inside one process and across instances, rotation stored before use,
 * invalid_grant → needs_reauth, endpoints and credentials.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { randomUUID } from 'node:crypto'
import { BitrixError, PortalInactiveError, PortalNeedsReauthError } from '../../../src/bitrix/api.ts'
import { checkEndpoint, tokenUrl } from '../../../src/bitrix/client/http.ts'
import { TokenManager, type TokenManagerOptions } from '../../../src/bitrix/client/oauth.ts'
import type { Cache } from '../../../storage/cache/cache.ts'
import { MemoryCache } from '../../../storage/cache/memory-cache.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { rawText, repositories } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { FakePortal } from './fake-portal.ts'
import { cacheBackends, installPortal, MARKETPLACE } from './support.ts'

let db: TestDatabase
let repos: Repositories
let fake: FakePortal
let cache: Cache
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
})
afterAll(() => db.drop())
afterEach(async () => {
  fake?.stop()
  await cache?.close()
})

function manager(options: Partial<TokenManagerOptions> = {}) {
  return new TokenManager({ portals: repos.portals, cache, app: MARKETPLACE, allowHttp: true, ...options })
}

function setUp(options?: ConstructorParameters<typeof FakePortal>[0]) {
  fake = new FakePortal(options)
  cache = new MemoryCache()
}

describe('OAuth endpoints', () => {
  test('the token URL comes from server_endpoint, never a fixed host (§3.1, §9.15)', () => {
    const url = (endpoint: string) => tokenUrl(checkEndpoint(endpoint, false, 'x'))
    expect(url('https://oauth.bitrix.info/rest/')).toBe('https://oauth.bitrix.info/oauth/token/')
    expect(url('https://oauth.bitrix24.tech/rest/')).toBe('https://oauth.bitrix24.tech/oauth/token/')
    expect(url('https://oauth.example/rest')).toBe('https://oauth.example/oauth/token/')
    expect(url('https://gw.example/b24/rest/?x=1')).toBe('https://gw.example/b24/oauth/token/')
  })

  test('plain http is refused unless allowed', () => {
    expect(() => checkEndpoint('http://oauth.example/rest/', false, 'x')).toThrow(/https/)
    expect(checkEndpoint('http://127.0.0.1:1/rest/', true, 'x').protocol).toBe('http:')
    expect(() => checkEndpoint('ftp://x/rest/', true, 'x')).toThrow(BitrixError)
    expect(() => checkEndpoint(null, true, 'x')).toThrow(BitrixError)
  })
})

describe('TokenManager', () => {
  test('a token far from expiry is used as stored, without a refresh', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    const session = await manager().session(portal.id)
    expect(session.accessToken).toBe(portal.accessToken!)
    expect(fake.refreshes).toHaveLength(0)
  })

  test('less than a minute left: refreshed first; the rotated pair is stored sealed before use', async () => {
    setUp()
    const portal = await installPortal(repos, fake, { expiresInMs: 30_000 })
    const session = await manager().session(portal.id)
    expect(fake.refreshes).toHaveLength(1)
    const form = fake.refreshes[0]!
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'refresh_token',
      client_id: MARKETPLACE.clientId,
      client_secret: MARKETPLACE.clientSecret,
      refresh_token: portal.refreshToken!,
    })
    expect(session.accessToken).not.toBe(portal.accessToken)
    // The old access token died with the exchange; the new one is what is stored.
    expect(fake.access.has(portal.accessToken!)).toBe(false)
    const stored = await repos.portals.get(portal.id)
    expect(stored.accessToken).toBe(session.accessToken)
    expect(stored.refreshToken).not.toBe(portal.refreshToken)
    expect(fake.refresh.has(stored.refreshToken!)).toBe(true)
    expect(stored.tokenExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 3_500_000)
    const raw = await rawText(db.sql, 'portals')
    expect(raw).not.toContain(stored.accessToken!)
    expect(raw).not.toContain(stored.refreshToken!)
  })

  test('a local app uses its own stored credentials', async () => {
    setUp({ clientId: 'local-id', clientSecret: 'local-secret' })
    const portal = await installPortal(repos, fake, {
      appClientId: 'local-id',
      appClientSecret: 'local-secret',
    })
    const session = await manager().renew(portal.id, portal.accessToken!)
    expect(fake.refreshes[0]!.get('client_id')).toBe('local-id')
    expect(fake.refreshes[0]!.get('client_secret')).toBe('local-secret')
    expect(session.accessToken).not.toBe(portal.accessToken)
  })

  test('no credentials at all: a clear error, the portal untouched', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    const error = await manager({ app: undefined })
      .renew(portal.id, portal.accessToken!)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BitrixError)
    expect((error as BitrixError).code).toBe('NO_APP_CREDENTIALS')
    expect((await repos.portals.get(portal.id)).status).toBe('active')
  })

  test('50 concurrent renewals of one rejected token: exactly one refresh', async () => {
    setUp()
    fake.refreshDelayMs = 50
    const portal = await installPortal(repos, fake)
    const tokens = manager()
    const sessions = await Promise.all(
      Array.from({ length: 50 }, () => tokens.renew(portal.id, portal.accessToken!)),
    )
    expect(fake.refreshes).toHaveLength(1)
    expect(new Set(sessions.map((s) => s.accessToken)).size).toBe(1)
    // Late arrivals with the old token see the stored new one: still one refresh.
    await tokens.renew(portal.id, portal.accessToken!)
    expect(fake.refreshes).toHaveLength(1)
  })

  test('waiting for another instance: its stored pair is used, not a second refresh', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    const held = await cache.tryLock(`bitrix:refresh:${portal.id}`, 5_000)
    const waiting = manager({ lockPollMs: 20 }).renew(portal.id, portal.accessToken!)
    await Bun.sleep(100)
    // The other instance refreshes and stores, then lets go.
    const pair = fake.issue()
    await repos.portals.updateTokens(portal.id, pair)
    await held!.release()
    expect((await waiting).accessToken).toBe(pair.accessToken)
    expect(fake.refreshes).toHaveLength(0)
  })

  test('invalid_grant: the portal needs re-authorisation and later calls fail fast', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    fake.refresh.clear()
    const tokens = manager()
    const errors = await Promise.all(
      Array.from({ length: 5 }, () => tokens.renew(portal.id, portal.accessToken!).catch((e: unknown) => e)),
    )
    for (const error of errors) expect(error).toBeInstanceOf(PortalNeedsReauthError)
    expect(fake.refreshes).toHaveLength(1)
    expect((await repos.portals.get(portal.id)).status).toBe('needs_reauth')
    await expect(tokens.session(portal.id)).rejects.toBeInstanceOf(PortalNeedsReauthError)
    expect(fake.refreshes).toHaveLength(1)
    // Reopening the app stores a new pair: the portal is active again.
    await repos.portals.updateTokens(portal.id, fake.issue())
    expect((await tokens.session(portal.id)).portal.status).toBe('active')
  })

  test('invalid_grant after someone else rotated the pair meanwhile is not a dead portal', async () => {
    setUp()
    fake.refreshDelayMs = 150
    const portal = await installPortal(repos, fake)
    // Our refresh token was already used by a holder whose lock had run out.
    fake.refresh.delete(portal.refreshToken!)
    const renewing = manager().renew(portal.id, portal.accessToken!)
    await Bun.sleep(50)
    const pair = fake.issue()
    await repos.portals.updateTokens(portal.id, pair)
    expect((await renewing).accessToken).toBe(pair.accessToken)
    expect((await repos.portals.get(portal.id)).status).toBe('active')
  })

  test('an early refresh that fails for a passing reason keeps using the still-valid token', async () => {
    setUp()
    const portal = await installPortal(repos, fake, { expiresInMs: 30_000 })
    fake.stop()
    const session = await manager().session(portal.id)
    expect(session.accessToken).toBe(portal.accessToken!)
  })

  test('http server_endpoint without OLCHAT_ALLOW_HTTP_PORTALS: refused before any request', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    const error = await manager({ allowHttp: false })
      .renew(portal.id, portal.accessToken!)
      .catch((e: unknown) => e)
    expect((error as BitrixError).code).toBe('INSECURE_ENDPOINT')
    expect(fake.refreshes).toHaveLength(0)
  })

  test('unknown and uninstalled portals are inactive', async () => {
    setUp()
    const portal = await installPortal(repos, fake)
    await repos.portals.setStatus(portal.id, 'uninstalled')
    const tokens = manager()
    await expect(tokens.session(portal.id)).rejects.toBeInstanceOf(PortalInactiveError)
    await expect(tokens.session(randomUUID())).rejects.toBeInstanceOf(PortalInactiveError)
    await expect(tokens.session('not-a-uuid')).rejects.toBeInstanceOf(PortalInactiveError)
  })
})

describe.each(cacheBackends)('two instances sharing $name', (backend) => {
  test('concurrent renewals on both: exactly one refresh reaches the OAuth server', async () => {
    fake = new FakePortal()
    fake.refreshDelayMs = 100
    cache = backend.create()
    const portal = await installPortal(repos, fake)
    // Two instances: separate managers (separate in-process maps), one shared cache, one database.
    const one = new TokenManager({
      portals: repos.portals,
      cache,
      app: MARKETPLACE,
      allowHttp: true,
      lockPollMs: 20,
    })
    const two = new TokenManager({
      portals: repos.portals,
      cache,
      app: MARKETPLACE,
      allowHttp: true,
      lockPollMs: 20,
    })
    const sessions = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).renew(portal.id, portal.accessToken!)),
    )
    expect(fake.refreshes).toHaveLength(1)
    expect(new Set(sessions.map((s) => s.accessToken)).size).toBe(1)
    expect((await repos.portals.get(portal.id)).accessToken).toBe(sessions[0]!.accessToken)
    await cache.deleteByPrefix('')
  })
})
