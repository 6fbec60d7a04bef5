/** Shared set-up of the REST client suites: portals stored through the real repository, pointing at a fake. */
import { randomUUID } from 'node:crypto'
import type { Cache } from '../../../storage/cache/cache.ts'
import { MemoryCache } from '../../../storage/cache/memory-cache.ts'
import { RedisCache } from '../../../storage/cache/redis-cache.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import type { Portal, PortalInput } from '../../../storage/repos/portals.ts'
import { testBackendSet, testRedisUrl } from '../../support/backends.ts'
import type { FakePortal } from './fake-portal.ts'

export const MARKETPLACE = { clientId: 'client-id', clientSecret: 'client-secret' }

/** Stores a portal whose endpoints are the fake's and whose tokens the fake has issued. */
export async function installPortal(
  repos: Repositories,
  fake: FakePortal,
  overrides: Partial<PortalInput> & { expiresInMs?: number } = {},
): Promise<Portal> {
  const { expiresInMs, ...input } = overrides
  const pair = fake.issue(expiresInMs)
  const memberId = `member-${randomUUID()}`
  const { portal } = await repos.portals.upsert({
    memberId,
    domain: `${memberId}.bitrix24.test`,
    serverEndpoint: fake.serverEndpoint,
    clientEndpoint: fake.clientEndpoint,
    applicationToken: 'app-token',
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    tokenExpiresAt: pair.expiresAt,
    ...input,
  })
  return portal
}

export interface CacheBackend {
  name: string
  create(): Cache
}

/** The in-process cache always; Redis too with the real backends (the multi-instance case). */
export const cacheBackends: CacheBackend[] = [{ name: 'MemoryCache', create: () => new MemoryCache() }]
if (testBackendSet() === 'real') {
  cacheBackends.push({
    name: 'RedisCache',
    create: () => new RedisCache({ url: testRedisUrl, keyPrefix: `olchat-test:${randomUUID()}:` }),
  })
}
