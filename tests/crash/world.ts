/**
 * @module The processes of one crash scenario: a messenger emulator (the `MessengerSide`) and the Bitrix24
 * emulator as child processes, one Olchat process on a database of the private PostgreSQL cluster and the
 * private Redis. Set up as an admin would: install, an account logged in at the messenger and bound to line 1,
 * then `chats` customers. Olchat can be SIGKILLed and restarted on the same port (the portal keeps calling the
 * handler URL it registered).
 */
import type { Subprocess } from 'bun'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { connect, type Sql } from '../../storage/db.ts'
import { LEASES_RELEASED_CHANNEL } from '../../storage/notify.ts'
import { createRepositories, type Repositories } from '../../storage/repos/index.ts'
import { spawnEmulator } from '../support/emulator-process.ts'
import { freePort } from '../support/free-port.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { until } from '../support/until.ts'
import { call, type MessengerSide } from './messenger-side.ts'

const clientId = 'app.olchat.crash'
const adminToken = 'crash-test-support-token-0123456789'
const clientSecret = 'crash-test-secret-123'

export interface PortalMessage {
  id: number
  author: string
  text: string
}
export interface PortalChat {
  id: number
  connector: string
  messages: PortalMessage[]
}

export class CrashWorld {
  olchat!: OlchatProcess
  sql!: Sql
  repos!: Repositories
  portalControl = ''
  accountId = ''
  kills = 0
  private children: Subprocess[] = []
  private env: Record<string, string> = {}
  private olchatUrl = ''

  constructor(
    readonly side: MessengerSide,
    private readonly databaseUrl: string,
    private readonly redisUrl: string,
  ) {}

  portal<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
    return call<T>(this.portalControl, path, body)
  }

  async start(chats: number): Promise<void> {
    const keyRing = `k1:${generateKey()}`
    const b24 = await spawnEmulator<{ control: string }>([
      'tests/emulators/bitrix24/main.ts',
      '--client-id',
      clientId,
      '--client-secret',
      clientSecret,
    ])
    this.children.push(b24.child)
    this.portalControl = b24.info.control
    const sideEnv = await this.side.start()
    const port = await freePort()
    this.olchatUrl = `http://127.0.0.1:${port}`
    this.env = {
      PORT: String(port),
      OLCHAT_PUBLIC_URL: this.olchatUrl,
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      OLCHAT_ENCRYPTION_KEYS: keyRing,
      BITRIX_CLIENT_ID: clientId,
      BITRIX_CLIENT_SECRET: clientSecret,
      OLCHAT_ALLOW_HTTP_PORTALS: 'true',
      LOG_LEVEL: process.env.CRASH_LOG_LEVEL ?? 'warn',
      OLCHAT_ADMIN_TOKEN: adminToken,
      ...sideEnv,
    }
    await this.startOlchat()
    this.sql = connect(this.databaseUrl, 2)
    this.repos = createRepositories(this.sql, KeyRing.fromText(keyRing))
    const install = await this.portal<{ finished: boolean }>('install', {
      appUrl: `${this.olchatUrl}/bitrix/install`,
    })
    if (!install.finished) throw new Error('install did not finish')
    await this.loginAccount()
    await this.bindLine()
    await this.side.createCustomers(chats)
  }

  /** Starts Olchat (again) on the same port and waits until it answers `/readyz`. */
  async startOlchat(): Promise<void> {
    this.olchat = startOlchat(this.env)
    await until(
      'Olchat ready',
      async () => {
        const res = await fetch(`${this.olchatUrl}/readyz`)
        return res.status === 200 ? true : undefined
      },
      { timeoutMs: 30_000, everyMs: 100, ignoreErrors: true },
    )
  }

  /** SIGKILL, then a new process at once. */
  async killAndRestart(): Promise<void> {
    this.olchat.child.kill('SIGKILL')
    await this.olchat.child.exited
    this.kills++
    await this.startOlchat()
  }

  private async loginAccount(): Promise<void> {
    const [portalRow] = await this.sql<{ id: string }[]>`select id from portals`
    const accountId = await this.side.login({
      sql: this.sql,
      repos: this.repos,
      portalId: portalRow!.id,
      admin: (method, path, body) => this.admin(method, path, body),
    })
    this.accountId = accountId
    await this.repos.accounts.setHealth(accountId, 'connecting')
    await this.sql.notify(LEASES_RELEASED_CHANNEL, '')
    await until(
      'the account online',
      async () => ((await this.repos.accounts.get(accountId)).health === 'online' ? true : undefined),
      { timeoutMs: 30_000, everyMs: 200, ignoreErrors: true },
    )
  }

  async admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.olchatUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }

  private async bindLine(): Promise<void> {
    const page = await this.portal<{ body: string }>('open-placement', {
      connector: this.side.portalConnector,
      line: 1,
    })
    const session = /name="session" value="([^"]+)"/.exec(page.body)?.[1]
    if (!session) throw new Error('no placement session')
    const bound = await fetch(`${this.olchatUrl}/bitrix/placement`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ session, action: 'bind', account: this.accountId }),
    })
    if (bound.status !== 200) throw new Error(`bind: ${bound.status}`)
  }

  async portalChats(): Promise<PortalChat[]> {
    const state = await this.portal<{ portals?: Array<{ chats: PortalChat[] }>; chats?: PortalChat[] }>(
      'state',
    )
    return (state.portals?.[0]?.chats ?? state.chats ?? []).filter(
      (c) => c.connector === this.side.portalConnector,
    )
  }

  /** Stops everything this world started; never throws. */
  async close(): Promise<void> {
    await this.olchat?.stop('SIGKILL').catch(() => {})
    await this.side.close().catch(() => {})
    for (const child of this.children) {
      child.kill('SIGTERM')
      await child.exited
    }
    await this.sql?.end({ timeout: 1 }).catch(() => {})
  }
}
