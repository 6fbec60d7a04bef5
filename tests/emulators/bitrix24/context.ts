/**
 * @module The emulator's shared state: apps, portals, the OAuth token store, counters and resolved settings.
 * Every other module receives this object instead of reaching for globals, so several emulators can run in
 * one process.
 */
import { LeakyBucket, type OperationConfig, OperationTimer } from './rate-limit.ts'
import { Portal, randomHex, randomToken } from './state.ts'
import { Stats } from './stats.ts'
import { TokenStore } from './tokens.ts'
import type { AppRecord, EmulatorOptions, PortalOptions, RateLimitOptions } from './types.ts'

export interface Settings {
  host: string
  eventTimeoutMs: number
  eventDelayMs: number
  eventUserAgent: string
  fileTimeoutMs: number
  maxRedirects: number
  echoEmployeeMessages: boolean
  falseAs: '' | '0'
  rateLimit: Required<RateLimitOptions>
  operation: OperationConfig & { costSeconds: number | Record<string, number> | null }
}

export const DEFAULT_CLIENT_ID = 'local.6650f0c1a2b3c4.12345678'
export const DEFAULT_CLIENT_SECRET = 'EmulatorClientSecret0123456789abcdefABCDEF0123456'
/** §2.2 example scope plus `im` (the scope list). */
export const DEFAULT_SCOPE = 'imopenlines,imconnector,im,placement'

export class Emulator {
  readonly apps = new Map<string, AppRecord>()
  readonly portals = new Map<string, Portal>()
  readonly stats = new Stats()
  readonly tokens: TokenStore
  readonly settings: Settings
  readonly primaryClientId: string
  /** Per-portal operation timers (§4.6). */
  readonly timers = new Map<string, OperationTimer>()
  /** Per-portal event queue: deliveries leave in emission order (§6.2). */
  readonly eventChains = new Map<string, Promise<unknown>>()
  oauthUrl = ''

  constructor(options: EmulatorOptions) {
    const app: AppRecord = {
      clientId: options.app?.clientId ?? DEFAULT_CLIENT_ID,
      clientSecret: options.app?.clientSecret ?? DEFAULT_CLIENT_SECRET,
      code: options.app?.code ?? 'olchat.connector',
      version: options.app?.version ?? 1,
      scope: options.app?.scope ?? DEFAULT_SCOPE,
    }
    this.primaryClientId = app.clientId
    this.apps.set(app.clientId, app)
    for (const extra of options.extraApps ?? []) {
      this.apps.set(extra.clientId, {
        clientId: extra.clientId,
        clientSecret: extra.clientSecret,
        code: extra.code ?? extra.clientId,
        version: extra.version ?? 1,
        scope: extra.scope ?? DEFAULT_SCOPE,
      })
    }
    // §3.2: access tokens live one hour; refresh tokens 180 days (current docs).
    this.tokens = new TokenStore(
      options.accessTokenTtlSeconds ?? 3600,
      options.refreshTokenTtlSeconds ?? 180 * 86400,
    )
    const op = options.operationLimit ?? {}
    this.settings = {
      host: options.host ?? '127.0.0.1',
      eventTimeoutMs: options.eventTimeoutMs ?? 10_000,
      eventDelayMs: options.eventDelayMs ?? 0,
      // §11.5: the queue server's User-Agent is undocumented; this is the one seen for related robot calls.
      eventUserAgent: options.eventUserAgent ?? 'Bitrix24 Webhook Engine',
      fileTimeoutMs: options.fileTimeoutMs ?? 10_000,
      maxRedirects: options.maxRedirects ?? 5,
      echoEmployeeMessages: options.echoEmployeeMessages ?? true,
      falseAs: options.formFalseAs ?? '',
      rateLimit: {
        // §4.6: non-Enterprise plans drain 2/s with a bucket of 50.
        drainPerSecond: options.rateLimit?.drainPerSecond ?? 2,
        burst: options.rateLimit?.burst ?? 50,
        countRejected: options.rateLimit?.countRejected ?? false,
      },
      operation: {
        // §4.6: 480 s per method in ten one-minute buckets.
        limitSeconds: op.limitSeconds ?? 480,
        bucketMs: op.bucketMs ?? 60_000,
        buckets: op.buckets ?? 10,
        costSeconds: op.costSeconds ?? null,
      },
    }
  }

  createPortal(options: PortalOptions): Portal {
    const rl = { ...this.settings.rateLimit, ...options.rateLimit }
    const portal = new Portal(
      options.memberId ?? randomHex(16),
      options.languageId ?? 'ru',
      options.license ?? 'ru_project',
      options.status ?? 'L',
      new LeakyBucket(rl.drainPerSecond, rl.burst, rl.countRejected),
    )
    const users = options.users ?? [
      { id: 1, name: 'Anna', lastName: 'Admin', admin: true },
      { id: 27, name: 'Klaus', lastName: 'Weber', admin: false },
    ]
    for (const u of users) {
      portal.users.set(u.id, { id: u.id, name: u.name, lastName: u.lastName ?? '', admin: u.admin })
      portal.bump('user', u.id)
    }
    for (const line of options.lines ?? [{ id: 1, name: 'Open Line 1' }]) {
      const id = line.id ?? portal.next('line')
      portal.bump('line', id)
      portal.lines.set(id, { id, name: line.name, active: true, fullCloseTime: 10, createdAt: Date.now() })
    }
    // §4.1: one incoming webhook of the admin always exists, so webhook-only behaviour is easy to reach.
    const hooks = options.webhooks ?? [{ userId: 1, code: randomToken(16) }]
    for (const hook of hooks) portal.webhooks.add(`${hook.userId}|${hook.code}`)
    this.portals.set(portal.memberId, portal)
    this.timers.set(portal.memberId, new OperationTimer(this.settings.operation))
    return portal
  }

  timer(portal: Portal): OperationTimer {
    return this.timers.get(portal.memberId)!
  }

  app(clientId?: string): AppRecord {
    const app = this.apps.get(clientId ?? this.primaryClientId)
    if (!app) throw new Error(`unknown app ${clientId}`)
    return app
  }

  /** `server_endpoint` (§3.4). */
  get serverEndpoint(): string {
    return `${this.oauthUrl}/rest/`
  }

  get oauthHost(): string {
    return new URL(this.oauthUrl).host
  }
}
