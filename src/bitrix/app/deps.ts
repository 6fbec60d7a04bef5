/**
 * @module What the Bitrix24 application (install, events, placement, inbox worker) is given by the
 * composition root. Everything that talks to the outside is injected, so tests pass recording fakes and a
 * fixed clock.
 */
import type { Cache } from '../../../storage/cache/cache.ts'
import type { Sql } from '../../../storage/db.ts'
import type { FileStore } from '../../../storage/files/file-store.ts'
import type { InboundEventRepository } from '../../../storage/repos/inbound-events.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import type { Logger } from '../../log/logger.ts'
import type { BitrixApi } from '../api.ts'

export interface CallWithTokenRequest {
  /** `https://<portal>/rest/` */
  clientEndpoint: string
  accessToken: string
  method: string
  params?: Record<string, unknown>
  allowHttp?: boolean
}

/**
 * One REST call with a token that is not stored (the install page's or placement's `AUTH_ID`): no refresh, no
 * portal lookup. Resolves to the answer's `result`; rejects on any error answer. The REST client provides it
 * (`src/bitrix/client/rest-client.ts`).
 */
export type CallWithToken = <T = unknown>(request: CallWithTokenRequest) => Promise<T>

export interface BitrixAppOptions {
  /** Register the sandbox connector too (tests, demos). @default false */
  sandboxConnector?: boolean
  /** The operator signature in texts sent to messengers: a bold first line, or dropped. @default 'bold' */
  signature?: 'bold' | 'drop'
  /** Largest accepted form body. @default 2 MiB */
  maxBodyBytes?: number
  /** Lifetime of a placement session. @default 30 minutes */
  placementSessionMs?: number
  /**
   * An event not stored within this long is answered 503 and its late write rolled back: the portal has
   * stopped waiting (one attempt, no retry, §6.2), and a write landing after the chat's next event would put
   * the two out of order. @default 5 s
   */
  eventStoreDeadlineMs?: number
}

export interface BitrixAppDeps {
  sql: Sql
  repos: Repositories
  inbox: InboundEventRepository
  api: BitrixApi
  callWithToken: CallWithToken
  /** The key ring (only key derivation is used here). */
  keys: { deriveKey(purpose: string): Buffer }
  cache: Cache
  files: FileStore
  log: Logger
  config: {
    /** Base URL at which Bitrix24 reaches Olchat, without a trailing slash. */
    publicUrl: string
    allowHttpPortals: boolean
    /** Marketplace app client id, when known: `app.info` answers must name it. */
    clientId?: string
  }
  now?: () => Date
  options?: BitrixAppOptions
  /** Called after an event was stored (wakes the inbox worker in this process). */
  onEventStored?: () => void
  /**
   * Called after `to_messenger` deliveries of an account were committed: the process running the account
   * (maybe another one) is woken to send them.
   */
  onDeliveriesQueued?: (accountId: string) => void
}
