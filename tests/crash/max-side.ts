/**
 * @module The MAX Bot API emulator as the messenger half of a crash world: a bot connected through Olchat's
 * admin API with the `token` login flow (as an admin pastes it), long polling (no public HTTPS address in a
 * test), customers who start the bot and write to it. MAX has no client-side message id, so the emulator's
 * `duplicate_messages` counter (an exact repeat of text in a chat) is the duplicate verdict toward MAX.
 */
import type { Subprocess } from 'bun'
import { spawnEmulator } from '../support/emulator-process.ts'
import { call, type MessengerChat, type MessengerSide, type SideContext } from './messenger-side.ts'

interface Dialog {
  chatId: number
  userId: number
}

export class MaxSide implements MessengerSide {
  readonly name = 'max'
  readonly portalConnector = 'olchat_max'
  url = ''
  token = ''
  /** MAX user ids of the customers, one dialog each. */
  customers: number[] = []
  #child: Subprocess | undefined

  control<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
    return call<T>(`${this.url}/_emulator`, path, body)
  }

  async start(): Promise<Record<string, string>> {
    const max = await spawnEmulator<{ url: string }>(['tests/emulators/max/main.ts'])
    this.#child = max.child
    this.url = max.info.url
    return { MAX_API_URL: this.url, MAX_MODE: 'polling' }
  }

  async login({ portalId, admin }: SideContext): Promise<string> {
    this.token = (await this.control<{ token: string }>('bots', { name: 'Shop' })).token
    const login = await admin<{ loginId: string }>('POST', '/accounts', {
      portalId,
      messenger: 'max',
      flow: 'token',
    })
    const done = await admin<{ account?: { id: string }; step: { type: string } }>(
      'POST',
      `/logins/${login.loginId}/steps`,
      { input: { token: this.token } },
    )
    if (!done.account) throw new Error(`MAX login did not complete: ${JSON.stringify(done.step)}`)
    return done.account.id
  }

  async createCustomers(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const { userId } = await this.control<{ userId: number }>('users', { name: `Customer ${i}` })
      await this.control('users/start', { token: this.token, userId })
      this.customers.push(userId)
    }
  }

  async customerSend(chat: number, text: string): Promise<void> {
    await this.control('users/send', { token: this.token, userId: this.customers[chat], text })
  }

  async chats(): Promise<MessengerChat[]> {
    const index = new Map(this.customers.map((id, i) => [id, i]))
    const { dialogs } = await this.control<{ dialogs: Dialog[] }>(`dialogs?token=${this.token}`)
    const chats: MessengerChat[] = []
    for (const dialog of dialogs) {
      const { messages } = await this.control<{ messages: Array<{ text: string; deleted: boolean }> }>(
        `messages?token=${this.token}&chat_id=${dialog.chatId}`,
      )
      chats.push({ chat: index.get(dialog.userId) ?? -1, outTexts: messages.map((m) => m.text) })
    }
    return chats
  }

  async repeats(): Promise<number> {
    return (await this.control<Record<string, number>>('stats')).duplicate_messages ?? 0
  }

  async close(): Promise<void> {
    this.#child?.kill('SIGTERM')
    await this.#child?.exited
  }
}
