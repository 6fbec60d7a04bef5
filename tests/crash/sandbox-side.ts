/**
 * @module The sandbox messenger as the messenger half of a crash world: an account logged in through the
 * sandbox connector's phone flow, customers created at the sandbox, verdicts from its state and its
 * `repeated` counter (a client message id seen twice).
 */
import type { Subprocess } from 'bun'
import { accountSessionStore } from '../../src/accounts/session-store.ts'
import { toAccountId, toLoginFlowId } from '../../src/bridge/ids.ts'
import type { LoginStep } from '../../src/bridge/login.ts'
import { SandboxConnector } from '../../src/connectors/sandbox/index.ts'
import { spawnEmulator } from '../support/emulator-process.ts'
import { call, type MessengerChat, type MessengerSide, type SideContext } from './messenger-side.ts'

interface SandboxChat {
  chatId: number
  messages: Array<{ id: number; out: boolean; text?: string }>
}

export class SandboxSide implements MessengerSide {
  readonly name = 'sandbox'
  readonly portalConnector = 'olchat_sandbox'
  url = ''
  accountId = 0
  /** Sandbox customer ids, one chat each. */
  customers: number[] = []
  #child: Subprocess | undefined

  control<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
    return call<T>(`${this.url}/_control`, path, body)
  }

  async start(): Promise<Record<string, string>> {
    const sandbox = await spawnEmulator<{ url: string }>(['tests/emulators/sandbox/main.ts'])
    this.#child = sandbox.child
    this.url = sandbox.info.url
    return { SANDBOX_URL: this.url }
  }

  async login({ repos, portalId }: SideContext): Promise<string> {
    const phone = '+15550177001'
    this.accountId = (await this.control<{ id: number }>('create-account', { phone, name: 'Shop' })).id
    const row = await repos.accounts.create({ portalId, messenger: 'sandbox', health: 'disconnected' })
    const login = new SandboxConnector({ baseUrl: this.url }).createLogin(toLoginFlowId('phone'), {
      accountId: toAccountId(row.id),
      session: accountSessionStore(repos.accountSessions, row.id),
      signal: new AbortController().signal,
    })
    let step: LoginStep = await login.start()
    for (let i = 0; i < 4 && step.type === 'user-input'; i++) {
      const input: Record<string, string> = {}
      for (const field of step.fields) {
        if (field.kind === 'phone') input[field.id] = phone
        else if (field.kind === 'code') {
          const path = `login-code?phone=${encodeURIComponent(phone)}`
          input[field.id] = (await this.control<{ code: string }>(path)).code
        } else throw new Error(`unexpected login field ${field.id}`)
      }
      step = await login.submit(input)
    }
    if (step.type !== 'complete') throw new Error('login did not complete')
    await repos.accounts.updateProfile(row.id, {
      remoteId: step.account.remoteId,
      displayName: step.account.displayName ?? null,
      phone,
    })
    return row.id
  }

  async createCustomers(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.customers.push(
        (await this.control<{ id: number }>('create-customer', { name: `Customer ${i}` })).id,
      )
    }
  }

  async customerSend(chat: number, text: string): Promise<void> {
    await this.control('customer-send', { customer: this.customers[chat], account: this.accountId, text })
  }

  async chats(): Promise<MessengerChat[]> {
    const index = new Map(this.customers.map((id, i) => [id, i]))
    const state = await this.control<{ accounts: Array<{ chats: SandboxChat[] }> }>(
      `state?account=${this.accountId}`,
    )
    return (state.accounts[0]?.chats ?? []).map((chat) => ({
      chat: index.get(chat.chatId) ?? -1,
      outTexts: chat.messages.filter((m) => m.out).map((m) => m.text ?? ''),
    }))
  }

  async repeats(): Promise<number> {
    return (await this.control<{ repeated: number }>('stats')).repeated
  }

  async close(): Promise<void> {
    this.#child?.kill('SIGTERM')
    await this.#child?.exited
  }
}
