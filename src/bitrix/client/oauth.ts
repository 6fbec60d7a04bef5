/**
 * @module OAuth tokens of stored portals (reference/bitrix24.md §3, §9.11, §9.15). Hands out a valid access
 * token, refreshing shortly before expiry or after the portal rejected one. Refresh tokens are single-use, so
 * a portal is refreshed by one caller at a time: one promise per portal inside the process, and a Cache lock
 * across processes with the stored pair re-read once the lock is held (another instance may have refreshed
 * already). The new pair is stored before anyone uses it; a dead refresh token marks the portal
 * `needs_reauth` and nothing queued for it is dropped (callers get PortalNeedsReauthError and keep their work).
 */
import type { Cache } from '../../../storage/cache/cache.ts'
import { type Portal, PortalNotFoundError, type PortalRepository } from '../../../storage/repos/portals.ts'
import type { Logger } from '../../log/logger.ts'
import { BitrixError, PortalInactiveError, PortalNeedsReauthError } from '../api.ts'
import { checkEndpoint, send, tokenUrl } from './http.ts'
import type { BitrixMetrics } from './metrics.ts'

/** The name OAuth-server errors carry in their `method` field. */
export const OAUTH_METHOD = 'oauth/token'

export type PortalStore = Pick<PortalRepository, 'get' | 'updateTokens' | 'setStatus'>

export interface TokenManagerOptions {
  portals: PortalStore
  /** Holds the cross-process refresh lock (`bitrix:refresh:<portalId>`). */
  cache: Cache
  /** Marketplace credentials; a portal's own local-app credentials win when stored. */
  app?: { clientId: string; clientSecret: string } | undefined
  /** Plain http endpoints (emulators on loopback only). */
  allowHttp?: boolean
  /** Refresh when less than this is left (default 60 s). */
  refreshBeforeMs?: number
  /** Timeout of one exchange with the OAuth server (default 15 s); must stay below `lockTtlMs`. */
  timeoutMs?: number
  /** Lifetime of the cross-process refresh lock (default 30 s). */
  lockTtlMs?: number
  /** How often a waiter looks whether the lock holder has stored a new pair (default 100 ms). */
  lockPollMs?: number
  logger?: Logger
  metrics?: BitrixMetrics
}

export interface PortalSession {
  portal: Portal
  accessToken: string
}

export class TokenManager {
  readonly #inflight = new Map<string, Promise<PortalSession>>()
  readonly #refreshBeforeMs: number
  readonly #timeoutMs: number
  readonly #lockTtlMs: number

  constructor(private readonly options: TokenManagerOptions) {
    this.#refreshBeforeMs = options.refreshBeforeMs ?? 60_000
    this.#timeoutMs = options.timeoutMs ?? 15_000
    this.#lockTtlMs = Math.max(options.lockTtlMs ?? 30_000, this.#timeoutMs + 5_000)
  }

  /**
   * The stored portal, if calls may be made for it.
   * @throws PortalInactiveError (uninstalled or unknown), PortalNeedsReauthError
   */
  async portal(portalId: string): Promise<Portal> {
    let portal: Portal
    try {
      portal = await this.options.portals.get(portalId)
    } catch (error) {
      // 22P02: not even a uuid, so certainly not a stored portal.
      const invalidId = (error as { code?: unknown } | null)?.code === '22P02'
      if (error instanceof PortalNotFoundError || invalidId)
        throw new PortalInactiveError(portalId, 'unknown')
      throw error
    }
    if (portal.status === 'uninstalled') throw new PortalInactiveError(portalId, portal.status)
    if (portal.status === 'needs_reauth') throw new PortalNeedsReauthError(portalId)
    return portal
  }

  /** An access token with more than `refreshBeforeMs` to live, refreshed first when needed. */
  async session(portalId: string): Promise<PortalSession> {
    const portal = await this.portal(portalId)
    if (!this.#needsRefresh(portal, null)) return { portal, accessToken: portal.accessToken! }
    try {
      return await this.#refresh(portalId, portal.accessToken)
    } catch (error) {
      // A refresh ahead of time that failed (OAuth server down, lock busy): the current token still works.
      const left = (portal.tokenExpiresAt?.getTime() ?? 0) - Date.now()
      const fatal = error instanceof PortalNeedsReauthError || error instanceof PortalInactiveError
      if (portal.accessToken && left > 0 && !fatal) {
        this.options.logger?.warn({ err: error, portalId, leftMs: left }, 'early token refresh failed')
        return { portal, accessToken: portal.accessToken }
      }
      throw error
    }
  }

  /** After the portal answered 401 to `rejected`: a different token, refreshed once for all callers. */
  renew(portalId: string, rejected: string): Promise<PortalSession> {
    return this.#refresh(portalId, rejected)
  }

  #needsRefresh(portal: Portal, rejected: string | null): boolean {
    if (!portal.accessToken || portal.accessToken === rejected) return true
    const expiresAt = portal.tokenExpiresAt?.getTime()
    return expiresAt !== undefined && expiresAt - Date.now() < this.#refreshBeforeMs
  }

  /** In-process single flight: every caller during a refresh shares its result. */
  #refresh(portalId: string, stale: string | null): Promise<PortalSession> {
    const running = this.#inflight.get(portalId)
    if (running) return running
    const refresh = this.#refreshLocked(portalId, stale).finally(() => this.#inflight.delete(portalId))
    this.#inflight.set(portalId, refresh)
    return refresh
  }

  /** Cross-process single flight through the Cache lock, with the stored pair re-read under it. */
  async #refreshLocked(portalId: string, stale: string | null): Promise<PortalSession> {
    const lockKey = `bitrix:refresh:${portalId}`
    const giveUpAt = Date.now() + this.#lockTtlMs + 5_000
    for (;;) {
      const portal = await this.portal(portalId)
      if (!this.#needsRefresh(portal, stale)) return { portal, accessToken: portal.accessToken! }
      // A Cache outage fails the refresh: refreshing unlocked could race another instance and kill the token.
      const lock = await this.options.cache.tryLock(lockKey, this.#lockTtlMs)
      if (lock) {
        try {
          const current = await this.portal(portalId)
          if (!this.#needsRefresh(current, stale))
            return { portal: current, accessToken: current.accessToken! }
          return await this.#exchange(current)
        } finally {
          await lock.release().catch((error: unknown) => {
            this.options.logger?.warn({ err: error, portalId }, 'could not release the token refresh lock')
          })
        }
      }
      if (Date.now() > giveUpAt) {
        throw new BitrixError('REFRESH_BUSY', 'another instance holds the refresh lock', 0, OAUTH_METHOD)
      }
      await Bun.sleep(this.options.lockPollMs ?? 100)
    }
  }

  /** One refresh_token exchange; the new pair is stored before it is returned. */
  async #exchange(portal: Portal): Promise<PortalSession> {
    const { logger, metrics } = this.options
    const credentials =
      portal.appClientId && portal.appClientSecret
        ? { clientId: portal.appClientId, clientSecret: portal.appClientSecret }
        : this.options.app
    if (!credentials) {
      metrics?.refreshes.inc({ outcome: 'no_credentials' })
      throw new BitrixError('NO_APP_CREDENTIALS', 'no client id and secret for this portal', 0, OAUTH_METHOD)
    }
    if (!portal.refreshToken || !portal.serverEndpoint) return this.#needsReauth(portal, 'no refresh token')
    const url = tokenUrl(
      checkEndpoint(portal.serverEndpoint, this.options.allowHttp ?? false, OAUTH_METHOD, 'server_endpoint'),
    )
    // POST form keeps the secret out of URLs and access logs (§3.1).
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      refresh_token: portal.refreshToken,
    }).toString()
    let answer: Awaited<ReturnType<typeof send>>
    try {
      answer = await send(
        url,
        { body, contentType: 'application/x-www-form-urlencoded' },
        this.#timeoutMs,
        OAUTH_METHOD,
      )
    } catch (error) {
      metrics?.refreshes.inc({ outcome: 'transport' })
      throw error
    }
    const reply = answer.body ?? {}
    const code = typeof reply.error === 'string' ? reply.error : undefined
    if (code === 'invalid_grant') return this.#invalidGrant(portal)
    const accessToken = reply.access_token
    const refreshToken = reply.refresh_token
    if (code !== undefined || typeof accessToken !== 'string' || typeof refreshToken !== 'string') {
      metrics?.refreshes.inc({ outcome: 'error' })
      const description = typeof reply.error_description === 'string' ? reply.error_description : ''
      throw new BitrixError(code ?? 'INVALID_RESPONSE', description, answer.status, OAUTH_METHOD)
    }
    const tokens = { accessToken, refreshToken, expiresAt: expiry(reply) }
    await this.#store(portal.id, tokens)
    metrics?.refreshes.inc({ outcome: 'ok' })
    logger?.info({ portalId: portal.id, expiresAt: tokens.expiresAt }, 'bitrix tokens refreshed')
    return { portal: { ...portal, ...tokens, tokenExpiresAt: tokens.expiresAt }, accessToken }
  }

  /**
   * The OAuth server refused the refresh token. If the stored pair changed meanwhile (a holder whose lock had
   * run out), that one is good; otherwise the portal needs an administrator to reopen the app.
   */
  async #invalidGrant(portal: Portal): Promise<PortalSession> {
    const current = await this.options.portals.get(portal.id)
    if (current.status === 'active' && current.refreshToken !== portal.refreshToken && current.accessToken) {
      return { portal: current, accessToken: current.accessToken }
    }
    return this.#needsReauth(portal, 'invalid_grant')
  }

  async #needsReauth(portal: Portal, reason: string): Promise<never> {
    await this.options.portals.setStatus(portal.id, 'needs_reauth')
    this.options.metrics?.refreshes.inc({ outcome: 'needs_reauth' })
    this.options.logger?.warn({ portalId: portal.id, reason }, 'bitrix portal needs re-authorisation')
    throw new PortalNeedsReauthError(portal.id)
  }

  /**
   * The old pair is already dead at the OAuth server: losing this write loses the portal's authorisation, so
   * a passing database error gets a few more tries.
   */
  async #store(portalId: string, tokens: { accessToken: string; refreshToken: string; expiresAt: Date }) {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.portals.updateTokens(portalId, tokens)
        return
      } catch (error) {
        if (attempt >= 3 || error instanceof PortalNotFoundError) {
          this.options.logger?.error({ err: error, portalId }, 'refreshed bitrix tokens could not be stored')
          throw error
        }
        await Bun.sleep(200 * attempt)
      }
    }
  }
}

/** `expires_in` (relative, immune to clock skew) first, then the absolute `expires`, else one hour (§3.2). */
function expiry(reply: Record<string, unknown>): Date {
  const expiresIn = Number(reply.expires_in)
  if (Number.isFinite(expiresIn) && expiresIn > 0) return new Date(Date.now() + expiresIn * 1000)
  const expires = Number(reply.expires)
  if (Number.isFinite(expires) && expires > 0) return new Date(expires * 1000)
  return new Date(Date.now() + 3_600_000)
}
