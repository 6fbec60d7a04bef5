/**
 * @module The three processes of the MAX ⇄ Bitrix24 end-to-end suite: the Bitrix24 emulator, the MAX Bot API
 * emulator and Olchat (`MAX_API_URL` at the emulator, `MAX_MODE` polling or webhook), on a throwaway database
 * of the real PostgreSQL and the real Redis. Installed as an admin would; the MAX bot is connected later by
 * the test through the admin API's `token` flow. Every call to the emulators goes through their control APIs.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import type { Sql } from '../../storage/db.ts'
import { createRepositories, type Repositories } from '../../storage/repos/index.ts'
import { call } from '../crash/messenger-side.ts'
import { testRedisUrl } from '../support/backends.ts'
import { spawnEmulator } from '../support/emulator-process.ts'
import { freePort } from '../support/free-port.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { until } from '../support/until.ts'

export type MaxMode = 'polling' | 'webhook'

const clientId = 'app.olchat.max-e2e'
const clientSecret = 'max-e2e-secret-123'
const adminToken = 'max-e2e-support-token-0123456789'

export interface ImMessage {
  id: number
  author: string
  text: string
  files: unknown[]
  connectorMid: string[] | null
  edited: boolean
  deleted: boolean
}
export interface PortalChat {
  id: number
  connector: string
  messages: ImMessage[]
}
export interface BotMessage {
  mid: string
  text: string
  attachments: Array<{ type: string; name?: string; mime?: string; base64?: string }>
  edited: boolean
  deleted: boolean
}

/** What an admin API call answered, whatever the status. */
export interface AdminAnswer<T> {
  status: number
  body: T
}

export class MaxBitrixWorld {
  db!: TestDatabase
  repos!: Repositories
  olchat!: OlchatProcess
  olchatUrl = ''
  portalControl = ''
  maxUrl = ''
  portalId = ''
  #children: Subprocess[] = []
  #dataDir = ''

  constructor(readonly mode: MaxMode) {}

  get sql(): Sql {
    return this.db.sql
  }

  async start(): Promise<void> {
    const keyRing = `k1:${generateKey()}`
    this.db = await createTestDatabase({ migrated: false })
    this.repos = createRepositories(this.db.sql, KeyRing.fromText(keyRing))
    this.#dataDir = await mkdtemp(join(tmpdir(), 'olchat-max-e2e-'))
    const [b24, max] = await Promise.all([
      spawnEmulator<{ control: string }>([
        'tests/emulators/bitrix24/main.ts',
        '--client-id',
        clientId,
        '--client-secret',
        clientSecret,
      ]),
      spawnEmulator<{ url: string }>(['tests/emulators/max/main.ts']),
    ])
    this.#children.push(b24.child, max.child)
    this.portalControl = b24.info.control
    this.maxUrl = max.info.url
    const port = await freePort()
    this.olchatUrl = `http://127.0.0.1:${port}`
    this.olchat = startOlchat({
      PORT: String(port),
      // The address the portal fetches files from and, in webhook mode, the one MAX calls. It is plain
      // http on a port, so `MAX_MODE=auto` would pick polling: webhook mode is asked for explicitly, and
      // the emulator accepts http sinks unless `requireHttpsWebhooks` is set (its README).
      OLCHAT_PUBLIC_URL: this.olchatUrl,
      OLCHAT_DATA_DIR: this.#dataDir,
      DATABASE_URL: this.db.url,
      REDIS_URL: testRedisUrl,
      OLCHAT_ENCRYPTION_KEYS: keyRing,
      OLCHAT_ADMIN_TOKEN: adminToken,
      BITRIX_CLIENT_ID: clientId,
      BITRIX_CLIENT_SECRET: clientSecret,
      OLCHAT_ALLOW_HTTP_PORTALS: 'true',
      MAX_API_URL: this.maxUrl,
      MAX_MODE: this.mode,
      LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
    })
    // The port is known: `/readyz` answers without waiting for the `listening` log line (info level).
    await until(
      'Olchat ready',
      async () => ((await fetch(`${this.olchatUrl}/readyz`)).status === 200 ? true : undefined),
      { timeoutMs: 30_000, ignoreErrors: true },
    )
    const install = await this.portal<{ finished: boolean }>('install', {
      appUrl: `${this.olchatUrl}/bitrix/install`,
    })
    if (!install.finished) throw new Error('install did not finish')
    const [row] = await this.sql<{ id: string }[]>`select id from portals`
    this.portalId = row!.id
  }

  portal<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
    return call<T>(this.portalControl, path, body)
  }

  max<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
    return call<T>(`${this.maxUrl}/_emulator`, path, body)
  }

  /** Olchat's admin API (`/api/v1`) with the support token; answers whatever the status. */
  async admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<AdminAnswer<T>> {
    const res = await fetch(`${this.olchatUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as T }
  }

  /** Binds the account to line 1 through the connector's settings placement, as an admin clicks it. */
  async bindLine(accountId: string): Promise<void> {
    const page = await this.portal<{ status: number; body: string }>('open-placement', {
      connector: 'olchat_max',
      line: 1,
    })
    const session = /name="session" value="([^"]+)"/.exec(page.body)?.[1]
    if (page.status !== 200 || !session) throw new Error(`placement page: ${page.status}`)
    const bound = await fetch(`${this.olchatUrl}/bitrix/placement`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ session, action: 'bind', account: accountId }),
    })
    if (bound.status !== 200) throw new Error(`bind: ${bound.status}`)
  }

  async portalChat(): Promise<PortalChat | undefined> {
    const state = await this.portal<{ portals?: Array<{ chats: PortalChat[] }>; chats?: PortalChat[] }>(
      'state',
    )
    return (state.portals?.[0]?.chats ?? state.chats ?? []).find((c) => c.connector === 'olchat_max')
  }

  async botMessages(token: string, chatId: number): Promise<BotMessage[]> {
    return (await this.max<{ messages: BotMessage[] }>(`messages?token=${token}&chat_id=${chatId}`)).messages
  }

  /** A counter of Olchat's `/metrics` (0 when the series does not exist yet). */
  async metric(name: string, labels: string): Promise<number> {
    const text = await (await fetch(`${this.olchatUrl}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`))
    return line ? Number(line.split(' ').pop()) : 0
  }

  /** Stops Olchat gracefully; the exit code. */
  async stopOlchat(): Promise<number | undefined> {
    return this.olchat?.stop()
  }

  /** Stops everything this world started; never throws. */
  async close(): Promise<void> {
    if (this.olchat?.child.exitCode === null) await this.olchat.stop('SIGKILL').catch(() => {})
    for (const child of this.#children) {
      child.kill('SIGTERM')
      await child.exited
    }
    await this.db?.drop().catch(() => {})
    if (this.#dataDir) await rm(this.#dataDir, { recursive: true, force: true })
  }
}

/**
 * Every row of every table as text, searched for the test's texts (copied from the sandbox e2e): after
 * delivery none may be left (R8). Waits for every delivery to be done first.
 */
export async function bodiesLeft(
  sql: Sql,
  texts: Record<string, string>,
  tag: string,
): Promise<{ found: string[]; tables: number; rows: number }> {
  await until('every delivery done and every stored update handled', async () => {
    const [row] = await sql<{ n: number }[]>`
      select (select count(*) from deliveries where status <> 'done')::int
           + (select count(*) from max_updates where handled_at is null)::int as n`
    return row!.n === 0 ? true : undefined
  })
  const [bodies] = await sql<{ n: number }[]>`
    select count(*)::int as n from deliveries where payload_enc is not null`
  // Webhook mode: a handled update keeps only its identity key, the sealed body goes.
  const [updates] = await sql<{ n: number }[]>`
    select count(*)::int as n from max_updates where body_enc is not null`
  const found: string[] = []
  if (bodies!.n > 0) found.push(`deliveries: ${bodies!.n} payloads`)
  if (updates!.n > 0) found.push(`max_updates: ${updates!.n} bodies`)
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`
  let rows = 0
  for (const { name } of tables) {
    const dump = await sql<{ row: string }[]>`select t::text as row from ${sql(name)} t`
    rows += dump.length
    for (const { row } of dump) {
      for (const [key, text] of Object.entries(texts)) if (row.includes(text)) found.push(`${name}: ${key}`)
      if (row.includes(tag)) found.push(`${name}: tag`)
    }
  }
  return { found, tables: tables.length, rows }
}
