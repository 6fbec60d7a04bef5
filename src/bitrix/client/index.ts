/**
 * @module The Bitrix24 REST client (see `rest-client.ts`) and how the composition root builds it from the
 * configuration.
 */
import type { Registry } from 'prom-client'
import type { Cache } from '../../../storage/cache/cache.ts'
import type { Config } from '../../config/load.ts'
import type { Logger } from '../../log/logger.ts'
import type { PortalStore } from './oauth.ts'
import { BitrixClient } from './rest-client.ts'

export { CacheBucketStore, LocalBucketStore } from './bucket-store.ts'
export { callWithToken } from './http.ts'
export { TokenManager } from './oauth.ts'
export { encodeBatchCommand, encodePhpQuery } from './php-query.ts'
export { PLAN_BUCKETS, RateBudget } from './rate-budget.ts'
export { BitrixClient, type BitrixClientOptions, MAX_BATCH_COMMANDS } from './rest-client.ts'

export function createBitrixClient({
  config,
  portals,
  cache,
  logger,
  registry,
}: {
  config: Pick<Config, 'bitrix'>
  portals: PortalStore
  cache: Cache
  logger?: Logger
  registry?: Registry
}): BitrixClient {
  const bucket = config.bitrix.restBudget
  return new BitrixClient({
    portals,
    cache,
    app: config.bitrix.app,
    allowHttp: config.bitrix.allowHttpPortals,
    ...(bucket ? { budget: { plans: { standard: bucket, enterprise: bucket } } } : {}),
    logger,
    registry,
  })
}
