/**
 * Harness of the Bitrix24 app suites: a real database (real server or PGlite), the real repositories, cache
 * and local file store, the HTTP app with the Bitrix24 routes mounted, and a recording fake of the portal
 * behind `BitrixApi` and `callWithToken` (the emulator suite covers real HTTP). Bodies are form-encoded as
 * PHP does.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { type BatchCommand, type BatchResult, type BitrixApi, BitrixError } from '../../../src/bitrix/api.ts'
import {
  type BitrixAppDeps,
  type CallWithTokenRequest,
  createBitrixRoutes,
  createInboxProcessor,
} from '../../../src/bitrix/app/index.ts'
import { createApp } from '../../../src/http/app.ts'
import { createLogger } from '../../../src/log/logger.ts'
import { createMetrics } from '../../../src/metrics.ts'
import { MemoryCache } from '../../../storage/cache/memory-cache.ts'
import type { Sql } from '../../../storage/db.ts'
import { LocalFileStore } from '../../../storage/files/local-file-store.ts'
import { InboundEventRepository } from '../../../storage/repos/inbound-events.ts'
import { repositories, secrets } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

export const PUBLIC_URL = 'https://olchat.example.com'

export interface RecordedCall {
  portalId: string
  method: string
  params: Record<string, unknown>
}

/** Bitrix24 as seen through `BitrixApi` and `callWithToken`, with the state the app changes. */
export class FakePortal implements BitrixApi {
  readonly calls: RecordedCall[] = []
  readonly tokenCalls: CallWithTokenRequest[] = []
  /** `EVENT|handler` per portal id (§6.1: event names are upper-case in `event.get`). */
  readonly bound = new Map<string, Set<string>>()
  readonly registered = new Map<string, Map<string, Record<string, unknown>>>()
  /** Access tokens the portal accepts, with the admin flag of their user (§2.6, `user.admin`). */
  readonly tokens = new Map<string, { admin: boolean; endpoint?: string }>()
  /** Methods that fail with a portal error. */
  readonly failing = new Set<string>()

  #run(portalId: string, method: string, params: Record<string, unknown>): unknown {
    this.calls.push({ portalId, method, params })
    if (this.failing.has(method))
      throw new BitrixError('INTERNAL_SERVER_ERROR', 'failing on purpose', 500, method)
    switch (method) {
      case 'imconnector.register': {
        const list = this.registered.get(portalId) ?? new Map()
        list.set(String(params.ID), params)
        this.registered.set(portalId, list)
        return { result: true }
      }
      case 'event.get':
        return [...(this.bound.get(portalId) ?? [])].map((key) => {
          const [event, handler] = key.split('|')
          return { event, handler, auth_type: '0', offline: 0 }
        })
      case 'event.bind': {
        const set = this.bound.get(portalId) ?? new Set()
        const key = `${String(params.event).toUpperCase()}|${String(params.handler)}`
        if (set.has(key)) throw new BitrixError('ERROR_CORE', 'Handler already binded', 400, method)
        set.add(key)
        this.bound.set(portalId, set)
        return true
      }
      case 'event.unbind': {
        const set = this.bound.get(portalId) ?? new Set()
        const removed = set.delete(`${String(params.event).toUpperCase()}|${String(params.handler)}`)
        return { count: removed ? 1 : 0 }
      }
      case 'imconnector.activate':
      case 'imconnector.connector.data.set':
        return true
      default:
        throw new BitrixError('ERROR_METHOD_NOT_FOUND', method, 404, method)
    }
  }

  async call<T>(portalId: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.#run(portalId, method, params) as T
  }

  async batch(portalId: string, commands: Record<string, BatchCommand>): Promise<BatchResult> {
    this.calls.push({ portalId, method: 'batch', params: { size: Object.keys(commands).length } })
    const result: BatchResult = { results: {}, errors: {} }
    for (const [key, command] of Object.entries(commands)) {
      try {
        result.results[key] = this.#run(portalId, command.method, command.params ?? {})
      } catch (error) {
        const e = error as BitrixError
        result.errors[key] = { error: e.code, description: e.description }
      }
    }
    return result
  }

  readonly callWithToken = async <T>(request: CallWithTokenRequest): Promise<T> => {
    this.tokenCalls.push(request)
    const known = this.tokens.get(request.accessToken)
    if (!known || (known.endpoint !== undefined && known.endpoint !== request.clientEndpoint)) {
      throw new BitrixError('invalid_token', 'The access token provided is invalid', 401, request.method)
    }
    if (request.method === 'app.info') {
      return { ID: 7, CODE: 'olchat', VERSION: 1, STATUS: 'L', INSTALLED: false } as T
    }
    if (request.method === 'user.admin') return known.admin as T
    throw new BitrixError('ERROR_METHOD_NOT_FOUND', request.method, 404, request.method)
  }

  /** Calls of one method (the fake's record of what the app asked the portal). */
  made(method: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method)
  }
}

export interface Harness {
  db: TestDatabase
  sql: Sql
  repos: ReturnType<typeof repositories>
  inbox: InboundEventRepository
  portal: FakePortal
  deps: BitrixAppDeps
  app: ReturnType<typeof createApp>
  logs: string[]
  cache: MemoryCache
  files: LocalFileStore
  process(limit?: number): Promise<number>
  setNow(date: Date): void
  close(): Promise<void>
}

export async function createHarness(
  options: {
    deps?: Partial<BitrixAppDeps>
    maxAttempts?: number
    /** Builds the inbox repository (a test wraps the real one). */
    inbox?: (sql: Sql, box: typeof secrets) => InboundEventRepository
  } = {},
): Promise<Harness> {
  const db = await createTestDatabase()
  const repos = repositories(db.sql)
  const inbox =
    options.inbox?.(db.sql, secrets) ??
    new InboundEventRepository(db.sql, secrets, { maxAttempts: options.maxAttempts ?? 3 })
  const portal = new FakePortal()
  const logs: string[] = []
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _encoding, done) {
        logs.push(chunk.toString())
        done()
      },
    }),
  })
  const dir = await mkdtemp(join(tmpdir(), 'olchat-bitrix-app-'))
  const cache = new MemoryCache()
  const files = new LocalFileStore({ dir, baseUrl: PUBLIC_URL, signingKey: secrets.deriveKey('test files') })
  let now = new Date('2026-03-01T10:00:00Z')
  const deps: BitrixAppDeps = {
    sql: db.sql,
    repos,
    inbox,
    api: portal,
    callWithToken: portal.callWithToken,
    keys: secrets,
    cache,
    files,
    log,
    config: { publicUrl: PUBLIC_URL, allowHttpPortals: false },
    now: () => now,
    ...options.deps,
  }
  const app = createApp({
    log,
    metrics: createMetrics('test'),
    checks: [],
    isDraining: () => false,
    routes: [createBitrixRoutes(deps)],
  })
  const processor = createInboxProcessor(deps)
  return {
    db,
    sql: db.sql,
    repos,
    inbox,
    portal,
    deps,
    app,
    logs,
    cache,
    files,
    process: (limit) => processor.processPending(limit),
    setNow(date) {
      now = date
    },
    async close() {
      await cache.close()
      await db.drop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** PHP's `urlencode` (what `http_build_query` applies to keys and values): RFC 1738, space as `+`. */
export function phpEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*~]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

/** `key=value&…` from pairs, both sides encoded like `http_build_query` (brackets become %5B %5D). */
export function phpForm(pairs: [string, string][]): string {
  return pairs.map(([key, value]) => `${phpEncode(key)}=${phpEncode(value)}`).join('&')
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

export function post(
  h: Pick<Harness, 'app'>,
  path: string,
  body: string,
  headers: Record<string, string> = FORM,
) {
  return h.app.request(path, { method: 'POST', body, headers })
}

export interface InstalledPortal {
  id: string
  memberId: string
  domain: string
  appToken: string
  accessToken: string
}

let installs = 0

/** Installs a portal through the install page, as the portal's install wizard does (§2.2). */
export async function install(
  h: Harness,
  overrides: Partial<InstalledPortal> = {},
): Promise<InstalledPortal> {
  installs++
  const memberId = overrides.memberId ?? `member${process.pid}x${installs}`
  const domain = overrides.domain ?? `acme${installs}.bitrix24.ru`
  const appToken = overrides.appToken ?? `apptoken${installs}${'a'.repeat(20)}`
  const accessToken = overrides.accessToken ?? `access${installs}${'b'.repeat(20)}`
  h.portal.tokens.set(accessToken, { admin: true })
  const body = phpForm([
    ['AUTH_ID', accessToken],
    ['AUTH_EXPIRES', '3600'],
    ['REFRESH_ID', `refresh${installs}${'c'.repeat(20)}`],
    ['SERVER_ENDPOINT', 'https://oauth.bitrix.info/rest/'],
    ['APPLICATION_TOKEN', appToken],
    ['APPLICATION_SCOPE', 'imopenlines,imconnector,im,placement'],
    ['member_id', memberId],
    ['status', 'L'],
    ['PLACEMENT', 'DEFAULT'],
  ])
  const res = await post(
    h,
    `/bitrix/install?DOMAIN=${domain}&PROTOCOL=1&LANG=ru&APP_SID=sid${installs}`,
    body,
  )
  if (res.status !== 200) throw new Error(`install answered ${res.status}: ${await res.text()}`)
  const portal = await h.repos.portals.getByMemberId(memberId)
  return { id: portal.id, memberId, domain, appToken, accessToken }
}

/** Row counts of every table of the schema (migrations bookkeeping aside). */
export async function countAllRows(sql: Sql): Promise<Record<string, number>> {
  const tables = await sql<{ name: string }[]>`
    select c.relname as name from pg_class c
    where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
      and c.relname <> 'schema_migrations'
    order by c.relname`
  const counts: Record<string, number> = {}
  for (const { name } of tables) {
    const [row] = await sql<{ count: number }[]>`select count(*)::int as count from ${sql(name)}`
    counts[name] = row!.count
  }
  return counts
}
