/**
 * @module The dialogs a bot has, as `{chatId: userId}` in the account's session. MAX dropped `GET /chats`
 * (reference §3.2) and says to record `chat_id` from updates, so this is the only list `syncContacts` can
 * walk. A new dialog is written at once (the caller awaits it before the dialog's first event goes on).
 */
import type { SessionStore } from '../../bridge/login.ts'
import { decodeText, SESSION_KEYS } from './session.ts'

export class DialogRegistry {
  #dialogs: Map<number, number> | undefined

  constructor(private readonly session: SessionStore) {}

  /** @returns whether the dialog was new. */
  async remember(chatId: number, userId: number): Promise<boolean> {
    const dialogs = await this.#load()
    if (dialogs.get(chatId) === userId) return false
    dialogs.set(chatId, userId)
    await this.session.set(SESSION_KEYS.dialogs, JSON.stringify(Object.fromEntries(dialogs)))
    return true
  }

  async all(): Promise<Map<number, number>> {
    return new Map(await this.#load())
  }

  async chatOfUser(userId: number): Promise<number | undefined> {
    for (const [chatId, user] of await this.#load()) if (user === userId) return chatId
    return undefined
  }

  async #load(): Promise<Map<number, number>> {
    if (this.#dialogs) return this.#dialogs
    const text = decodeText(await this.session.get(SESSION_KEYS.dialogs))
    const dialogs = new Map<number, number>()
    if (text) {
      try {
        for (const [chat, user] of Object.entries(JSON.parse(text) as Record<string, unknown>)) {
          if (Number.isSafeInteger(Number(chat)) && typeof user === 'number') dialogs.set(Number(chat), user)
        }
      } catch {
        // A damaged list is rebuilt from the next updates.
      }
    }
    this.#dialogs = dialogs
    return dialogs
  }
}
