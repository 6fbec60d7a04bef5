/**
 * @module The processes of one crash scenario: the sandbox messenger and the Bitrix24 emulator as child
 * processes, one Olchat process on a database of the private PostgreSQL cluster and the private Redis. Set
 * up as an admin would: install, an account logged in through the sandbox connector and bound to line 1,
 * then `chats` customers. Olchat can be SIGKILLed and restarted on the same port (the portal keeps calling
 * the handler URL it registered).
 */
import type { Subprocess } from 'bun'
import { accountSessionStore } from '../../src/accounts/session-store.ts'
import { toAccountId, toLoginFlowId } from '../../src/bridge/ids.ts'
import type { LoginStep } from '../../src/bridge/login.ts'
import { SandboxConnector } from '../../src/connectors/sandbox/index.ts'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { connect, type Sql } from '../../storage/db.ts'
import { LEASES_RELEASED_CHANNEL } from '../../storage/notify.ts'
import { createRepositories, type Repositories } from '../../storage/repos/index.ts'
import { spawnEmulator } from '../support/emulator-process.ts'
import { freePort } from '../support/free-port.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { until } from '../support/until.ts'

const clientId = 'app.olchat.crash'
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
export interface SandboxChat {
  chatId: number
  messages: Array<{ id: number; out: boolean; text?: string }>
}

async function call<T>(base: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base.replace(/\/$/, '')}/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

export class CrashWorld {
  olchat!: OlchatProcess
  sql!: Sql
  repos!: Repositories
  sandboxUrl = ''
  portalControl = ''
  accountId = ''
  sandboxAccountId = 0
  /** Sandbox customer ids, one chat each. */
  customers: number[] = []
  kills = 0
  private children: Subprocess[] = []
  private env: Record<string, string> = {}
  private olchatUrl = ''

  constructor(
    private readonly databaseUrl: string,
    private readonly redisUrl: string,
  ) {}

  portal<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
    return call<T>(this.portalControl, path, body)
  }

  sandbox<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
    return call<T>(`${this.sandboxUrl}/_control`, path, body)
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
    const sbx = await spawnEmulator<{ url: string }>(['tests/emulators/sandbox/main.ts'])
    this.children.push(sbx.child)
    this.sandboxUrl = sbx.info.url
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
      SANDBOX_URL: this.sandboxUrl,
      LOG_LEVEL: 'warn',
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
    for (let i = 0; i < chats; i++) {
      this.customers.push(
        (await this.sandbox<{ id: number }>('create-customer', { name: `Customer ${i}` })).id,
      )
    }
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
    const phone = '+15550177001'
    this.sandboxAccountId = (await this.sandbox<{ id: number }>('create-account', { phone, name: 'Shop' })).id
    const [portalRow] = await this.sql<{ id: string }[]>`select id from portals`
    const row = await this.repos.accounts.create({
      portalId: portalRow!.id,
      messenger: 'sandbox',
      health: 'disconnected',
    })
    this.accountId = row.id
    const login = new SandboxConnector({ baseUrl: this.sandboxUrl }).createLogin(toLoginFlowId('phone'), {
      accountId: toAccountId(row.id),
      session: accountSessionStore(this.repos.accountSessions, row.id),
      signal: new AbortController().signal,
    })
    let step: LoginStep = await login.start()
    for (let i = 0; i < 4 && step.type === 'user-input'; i++) {
      const input: Record<string, string> = {}
      for (const field of step.fields) {
        if (field.kind === 'phone') input[field.id] = phone
        else if (field.kind === 'code') {
          const path = `login-code?phone=${encodeURIComponent(phone)}`
          input[field.id] = (await this.sandbox<{ code: string }>(path)).code
        } else throw new Error(`unexpected login field ${field.id}`)
      }
      step = await login.submit(input)
    }
    if (step.type !== 'complete') throw new Error('login did not complete')
    await this.repos.accounts.updateProfile(row.id, {
      remoteId: step.account.remoteId,
      displayName: step.account.displayName ?? null,
      phone,
    })
    await this.repos.accounts.setHealth(row.id, 'connecting')
    await this.sql.notify(LEASES_RELEASED_CHANNEL, '')
    await until(
      'the account online',
      async () => ((await this.repos.accounts.get(row.id)).health === 'online' ? true : undefined),
      { timeoutMs: 30_000, everyMs: 200, ignoreErrors: true },
    )
  }

  private async bindLine(): Promise<void> {
    const page = await this.portal<{ body: string }>('open-placement', {
      connector: 'olchat_sandbox',
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
    return (state.portals?.[0]?.chats ?? state.chats ?? []).filter((c) => c.connector === 'olchat_sandbox')
  }

  async sandboxChats(): Promise<SandboxChat[]> {
    const state = await this.sandbox<{ accounts: Array<{ chats: SandboxChat[] }> }>(
      `state?account=${this.sandboxAccountId}`,
    )
    return state.accounts[0]?.chats ?? []
  }

  /** Stops everything this world started; never throws. */
  async close(): Promise<void> {
    await this.olchat?.stop('SIGKILL').catch(() => {})
    for (const child of this.children) {
      child.kill('SIGTERM')
      await child.exited
    }
    await this.sql?.end({ timeout: 1 }).catch(() => {})
  }
}
