/**
 * @module A BitrixApi that records every call and answers the `imconnector.*` methods the way
 * reference/bitrix24.md §5.8–5.12 documents: per-item results with `session {ID, CHAT_ID}`, item failures
 * (`SUCCESS:false, ERRORS`) while the call succeeds, NOT_ACTIVE_LINE as a 400 BitrixError, lowercase keys
 * inside MESSAGES. Faults are injected per test. Not a portal emulator: no HTTP, no rate limit.
 */
import {
  type BatchResult,
  type BitrixApi,
  type BitrixCallOptions,
  BitrixError,
  PortalNeedsReauthError,
} from '../../../src/bitrix/api.ts'

type Item = Record<string, Record<string, unknown> | undefined>

export interface RecordedCall {
  portalId: string
  method: string
  params: Record<string, unknown>
  options: BitrixCallOptions | undefined
  /** `MESSAGES` after the portal's key lowercasing. */
  items: Item[]
}

/** What the portal's Open Lines chat received, in arrival order. */
export interface PortalChat {
  id: string
  messages: { id: string; text?: string; files: { url: string; name?: string }[] }[]
}

/** Lowercases keys recursively, as the portal does inside MESSAGES (§4.2). */
function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key.toLowerCase(), lowerKeys(inner)]),
  )
}

export class RecordingPortal implements BitrixApi {
  readonly calls: RecordedCall[] = []
  /** Open Lines chats by `connector|line|chat.id|userId` (§5.8 user code). */
  readonly chats = new Map<string, PortalChat>()
  /** Connector/line pairs whose status is OK; any other line answers NOT_ACTIVE_LINE. */
  readonly activeLines = new Set<string>()
  /** Per-item failure: return error texts for an item to fail it (called for send/update/delete items). */
  failItem: ((item: Item, method: string) => string[] | undefined) | undefined
  /** Thrown before the call runs (e.g. PortalNeedsReauthError, a 503). */
  failBefore: ((method: string) => Error | undefined) | undefined
  /** Thrown after the call has run (its answer is lost: a timeout or a reset). */
  failAfter: ((method: string) => Error | undefined) | undefined
  /** Runs inside each call (e.g. checking file links the way the portal would fetch them). */
  onCall: ((call: RecordedCall) => void | Promise<void>) | undefined
  /** Milliseconds each call takes. */
  delayMs = 0
  needsReauth = false
  #users = new Map<string, string>()
  #nextId = 1000

  activate(connector: string, line: string | number): void {
    this.activeLines.add(`${connector}|${line}`)
  }

  deactivate(connector: string, line: string | number): void {
    this.activeLines.delete(`${connector}|${line}`)
  }

  /** Every message id sent, per external chat id, in arrival order. */
  sentByChat(): Map<string, string[]> {
    const byChat = new Map<string, string[]>()
    for (const call of this.calls.filter((c) => c.method === 'imconnector.send.messages')) {
      for (const item of call.items) {
        const chatId = String(item.chat?.id)
        byChat.set(chatId, [...(byChat.get(chatId) ?? []), String(item.message?.id)])
      }
    }
    return byChat
  }

  /** Message ids the Open Lines chat(s) of external chat `chatId` received, in order. */
  messagesOf(chatId: string): string[] {
    return [...this.chats.entries()]
      .filter(([code]) => code.split('|')[2] === chatId)
      .flatMap(([, chat]) => chat.messages.map((message) => message.id))
  }

  async call<T = unknown>(
    portalId: string,
    method: string,
    params: Record<string, unknown> = {},
    options?: BitrixCallOptions,
  ): Promise<T> {
    const items = ((lowerKeys(params.MESSAGES) as Item[] | undefined) ?? []).map((item) => item)
    const call: RecordedCall = { portalId, method, params: structuredClone(params), options, items }
    this.calls.push(call)
    if (this.needsReauth) throw new PortalNeedsReauthError(portalId)
    const before = this.failBefore?.(method)
    if (before) throw before
    if (!this.activeLines.has(`${params.CONNECTOR}|${params.LINE}`)) {
      // §5.8: whole-call error, thrown as RestException(…, 400) by current portals.
      throw new BitrixError(
        'NOT_ACTIVE_LINE',
        'The line with this ID is inactive or does not exist',
        400,
        method,
      )
    }
    if (this.delayMs > 0) await Bun.sleep(this.delayMs)
    await this.onCall?.(call)
    const result = this.#run(method, String(params.CONNECTOR), String(params.LINE), items)
    const after = this.failAfter?.(method)
    if (after) throw after
    return result as T
  }

  batch(): Promise<BatchResult> {
    throw new Error('RecordingPortal: batch is not used by the portal sender')
  }

  #run(method: string, connector: string, line: string, items: Item[]): unknown {
    switch (method) {
      case 'imconnector.send.messages':
      case 'imconnector.update.messages':
      case 'imconnector.delete.messages':
        return {
          SUCCESS: true,
          DATA: { RESULT: items.map((item) => this.#item(method, connector, line, item)) },
        }
      case 'imconnector.send.status.delivery':
      case 'imconnector.send.status.reading':
        // §5.11, §5.12: no per-item results.
        return { SUCCESS: true, DATA: [] }
      default:
        throw new BitrixError('ERROR_METHOD_NOT_FOUND', `Method not found: ${method}`, 404, method)
    }
  }

  #item(method: string, connector: string, line: string, item: Item): Record<string, unknown> {
    const errors = this.failItem?.(item, method)
    if (errors) return { ...item, SUCCESS: false, ERRORS: errors }
    const externalUser = `${connector}|${item.user?.id}`
    let user = this.#users.get(externalUser)
    if (!user) {
      user = String(this.#nextId++)
      this.#users.set(externalUser, user)
    }
    const code = `${connector}|${line}|${item.chat?.id}|${user}`
    let chat = this.chats.get(code)
    if (!chat) {
      chat = { id: String(this.#nextId++), messages: [] }
      this.chats.set(code, chat)
    }
    const message = item.message ?? {}
    if (method === 'imconnector.send.messages') {
      chat.messages.push({
        id: String(message.id),
        text: message.text as string | undefined,
        files: (message.files as { url: string; name?: string }[] | undefined) ?? [],
      })
      // §5.8: message.date comes back as an empty object; session only when one exists.
      return {
        user,
        message: { ...message, date: {} },
        chat: item.chat,
        SUCCESS: true,
        session: { ID: String(this.#nextId++), CHAT_ID: chat.id },
      }
    }
    return { user, message, chat: item.chat, SUCCESS: true }
  }
}
