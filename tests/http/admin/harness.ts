/**
 * Shared set-up of the admin API suites: a test database, the real sandbox connector against an in-process
 * sandbox messenger, a recording AccountControl, tokens of each kind, and `call()` for app.request.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { ConnectorName, MessengerConnector } from '../../../src/bridge/connector.ts'
import { SandboxConnector } from '../../../src/connectors/sandbox/connector.ts'
import {
  type AccountControl,
  type AdminDeps,
  type AdminOptions,
  createAdminRoutes,
  createToken,
  ensureAdminToken,
  generateToken,
  ROLE_PERMISSIONS,
} from '../../../src/http/admin/index.ts'
import { createApp } from '../../../src/http/app.ts'
import { createLogger } from '../../../src/log/logger.ts'
import { createMetrics } from '../../../src/metrics.ts'
import { retentionPeriods } from '../../../src/privacy/retention-periods.ts'
import { MemoryCache } from '../../../storage/cache/memory-cache.ts'
import { LocalFileStore } from '../../../storage/files/local-file-store.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import type { PortalInput } from '../../../storage/repos/portals.ts'
import { type SandboxMessenger, startSandbox } from '../../emulators/sandbox/index.ts'
import { repositories, secrets, seedPortal } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

export class RecordingAccountControl implements AccountControl {
  readonly calls: string[] = []
  failStart = false

  async start(accountId: string): Promise<void> {
    this.calls.push(`start ${accountId}`)
    if (this.failStart) throw new Error('runtime refused')
  }

  async stop(accountId: string): Promise<void> {
    this.calls.push(`stop ${accountId}`)
  }

  async relogin(accountId: string): Promise<void> {
    this.calls.push(`relogin ${accountId}`)
    if (this.failStart) throw new Error('runtime refused')
  }
}

/** What a suite may set beyond the admin options. */
export interface HarnessSetup {
  /** The rows of portals A and B (default: made-up member ids). */
  portals?: [PortalInput, PortalInput]
  bitrix?: AdminDeps['bitrix']
  now?: AdminDeps['now']
}

export interface Harness {
  db: TestDatabase
  deps: AdminDeps
  repos: Repositories
  sandbox: SandboxMessenger
  control: RecordingAccountControl
  app: { request(path: string, init?: RequestInit): Response | Promise<Response> }
  portalA: string
  portalB: string
  /** Bearer tokens: unscoped support (OLCHAT_ADMIN_TOKEN), support of portal B, read-only, unknown role. */
  tokens: { support: string; otherPortal: string; readOnly: string; unknownRole: string }
  logged: string[]
  call(method: string, path: string, token?: string, body?: unknown): Promise<Response>
  /** A sandbox account with a fresh phone number. */
  newPhone(options?: { password?: string }): string
  /** The login code, read over the sandbox's control API (as a person reads it from the app). */
  loginCode(phone: string): Promise<string>
  close(): Promise<void>
}

let phones = 0

export async function createHarness(options: AdminOptions = {}, setup: HarnessSetup = {}): Promise<Harness> {
  const db = await createTestDatabase()
  const repos = repositories(db.sql)
  const sandbox = await startSandbox({ rateLimit: null })
  const control = new RecordingAccountControl()
  const connectors = new Map<ConnectorName, MessengerConnector>([
    ['sandbox', new SandboxConnector({ baseUrl: sandbox.url })],
  ])
  const logged: string[] = []
  const log = createLogger({
    destination: new Writable({
      write(chunk, _encoding, done) {
        logged.push(chunk.toString())
        done()
      },
    }),
  })
  const filesDir = mkdtempSync(join(tmpdir(), 'olchat-admin-files-'))
  const deps: AdminDeps = {
    sql: db.sql,
    repos,
    keys: secrets,
    connectors,
    accountControl: control,
    log,
    // Access exports (D1) read the cache and the file store too: in-process ones here.
    privacy: {
      cache: new MemoryCache(),
      files: new LocalFileStore({
        dir: filesDir,
        baseUrl: 'http://127.0.0.1:1',
        signingKey: randomBytes(32),
      }),
      keys: secrets,
      repos,
      periods: retentionPeriods(),
    },
    ...(setup.bitrix ? { bitrix: setup.bitrix } : {}),
    ...(setup.now ? { now: setup.now } : {}),
    options: {
      roles: { ...ROLE_PERMISSIONS, reader: ['accounts:read', 'deliveries:read'] },
      ...options,
    },
  }
  const admin = createAdminRoutes(deps)
  const app = createApp({
    log,
    metrics: createMetrics('test'),
    checks: [],
    isDraining: () => false,
    routes: [admin],
  })
  const [portalA, portalB] = setup.portals
    ? [
        (await repos.portals.upsert(setup.portals[0])).portal.id,
        (await repos.portals.upsert(setup.portals[1])).portal.id,
      ]
    : [(await seedPortal(repos)).id, (await seedPortal(repos)).id]
  const support = generateToken()
  await ensureAdminToken(db.sql, support)
  const tokens = {
    support,
    otherPortal: generateToken(),
    readOnly: generateToken(),
    unknownRole: generateToken(),
  }
  await createToken(db.sql, { token: tokens.otherPortal, role: 'support', portalId: portalB })
  await createToken(db.sql, { token: tokens.readOnly, role: 'reader' })
  await createToken(db.sql, { token: tokens.unknownRole, role: 'owner' })

  return {
    db,
    deps,
    repos,
    sandbox,
    control,
    app,
    portalA,
    portalB,
    tokens,
    logged,
    async call(method, path, token, body) {
      const headers: Record<string, string> = {}
      if (token !== undefined) headers.Authorization = `Bearer ${token}`
      if (body !== undefined) headers['Content-Type'] = 'application/json'
      return app.request(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    },
    newPhone(options = {}) {
      const phone = `+1666${process.pid % 1000}${String(++phones).padStart(4, '0')}`
      sandbox.createAccount({ phone, name: `Agent ${phones}`, ...options })
      return phone
    },
    async loginCode(phone) {
      const url = `${sandbox.info().control}/login-code?phone=${encodeURIComponent(phone)}`
      const res = await fetch(url)
      return ((await res.json()) as { code: string }).code
    },
    async close() {
      await sandbox.stop()
      await db.drop()
      rmSync(filesDir, { recursive: true, force: true })
    },
  }
}

/** Loosely typed JSON, for assertions on response bodies. */
// biome-ignore lint/suspicious/noExplicitAny: assertions walk response bodies freely
export type Loose = Record<string, any>

/** Body of a JSON response. */
export async function json<T = Loose>(res: Response): Promise<T> {
  return (await res.json()) as T
}

export async function auditActions(h: Harness): Promise<string[]> {
  const rows = await h.db.sql<{ action: string }[]>`select action from audit_log order by id`
  return rows.map((row) => row.action)
}
