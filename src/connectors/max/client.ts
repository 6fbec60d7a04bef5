/**
 * @module `MaxClient`: one connected MAX bot (reference/max-bot-api.md). Receiving is `receiver.ts`; here
 * are the actions: sends (text split at 4000 characters, files by the three-step upload, one file per
 * message, §5.1/§5.3), edits, deletions, typing, contacts from the recorded dialogs (`GET /chats/{id}`),
 * the bot's own profile (`GET /me`), downloads of received files and avatars.
 *
 * MAX takes no client-side message id, so a send cannot be made idempotent at MAX. The client remembers the
 * parts of recent sends by `clientMessageId`: a retry in this process skips what already went (also the
 * first files of a message that failed half-way). After a crash between the send and the core's commit the core
 * marks the resend in doubt, and the chat's recent messages are searched for it before it is posted again; it
 * goes twice only if MAX lost it from that list (at-least-once).
 */
import type {
  ContactAvatars,
  FileDownloading,
  OwnProfile,
  OwnProfileReading,
  PositionHolding,
  TypingNotifying,
} from '../../bridge/capabilities.ts'
import type {
  MessengerClient,
  OutgoingFile,
  OutgoingMessage,
  RemoteEventListener,
  SentMessage,
} from '../../bridge/client.ts'
import { NeedsLoginError, PermanentSendError, TransientNetworkError } from '../../bridge/errors.ts'
import {
  type AccountId,
  type RemoteChatId,
  type RemoteFileRef,
  type RemoteMessageId,
  type RemoteUserId,
  toRemoteFileRef,
  toRemoteMessageId,
} from '../../bridge/ids.ts'
import type { SessionStore } from '../../bridge/login.ts'
import type { FileStream, RemoteContact, RemoteEvent } from '../../bridge/remote-event.ts'
import type { Logger } from '../../log/logger.ts'
import { type MaxApi, MaxApiError, type MaxHttp } from './api.ts'
import { decodeFileRef } from './attachments.ts'
import { DialogRegistry } from './dialogs.ts'
import { isNotReady, toBridgeError } from './errors.ts'
import { ownProfileOf, smallAvatarUrl } from './own-profile.ts'
import type { PollingOptions } from './polling.ts'
import { type ReceiveMode, Receiver, type WebhookSetup } from './receiver.ts'
import { BotInfo, Chat, MessageList, SentMessageAnswer, VideoInfo } from './schemas.ts'
import { MAX_PART_LENGTH, splitText } from './text-split.ts'
import { toContact } from './updates.ts'
import { type UploadedAttachment, uploadFile } from './uploads.ts'

/** A text longer than this many parts is refused rather than sent as a flood of messages. */
export const MAX_TEXT_PARTS = 8
export const MAX_TEXT_LENGTH = MAX_PART_LENGTH * MAX_TEXT_PARTS

export interface MaxClientOptions {
  accountId: AccountId
  session: SessionStore
  /** The bot token (the account's sealed credentials); null when the account has none. */
  token: string | null
  http: MaxHttp
  mode: ReceiveMode
  webhook?: WebhookSetup
  polling: PollingOptions
  /** Waits between sends refused with `attachment.not.ready` (§5.4: retry with a growing delay). */
  notReadyDelaysMs: readonly number[]
  onSkipped?(reason: string): void
  log?: Logger
}

interface SendProgress {
  mids: RemoteMessageId[]
  timestamp?: Date
  done: boolean
  /** When a post of the next part lost its answer (the message may exist at MAX): ms, our clock. */
  inDoubtSince?: number
}

/** Recent sends kept for retries (a retry comes within minutes; old entries go first). */
const REMEMBERED_SENDS = 1000
/** MAX's clock against ours when matching a message a lost answer left behind. */
const CLOCK_SKEW_MS = 30_000

export class MaxClient
  implements
    MessengerClient,
    FileDownloading,
    TypingNotifying,
    ContactAvatars,
    OwnProfileReading,
    PositionHolding
{
  readonly accountId: AccountId
  readonly #listeners = new Set<RemoteEventListener>()
  readonly #api: MaxApi | undefined
  readonly #receiver: Receiver
  readonly #dialogs: DialogRegistry
  readonly #sends = new Map<string, SendProgress>()
  /** Mids this client created (a lost answer's message is matched only among others). */
  readonly #ownMids = new Set<string>()
  readonly #options: MaxClientOptions
  /** Set once MAX refused `mark_seen` (removed from the docs, §6): no more calls for it. */
  #markSeenRefused = false

  constructor(options: MaxClientOptions) {
    this.#options = options
    this.accountId = options.accountId
    this.#api = options.token ? options.http.api(options.token) : undefined
    this.#dialogs = new DialogRegistry(options.session)
    this.#receiver = new Receiver({
      accountId: options.accountId,
      session: options.session,
      api: this.#api,
      mode: options.mode,
      webhook: options.webhook,
      polling: options.polling,
      pollBudget: options.token ? options.http.pollBudget(options.token) : undefined,
      dialogs: this.#dialogs,
      emit: (event) => this.#emit(event),
      open: (ref, signal) => this.openFile(ref, signal),
      onSkipped: (reason) => options.onSkipped?.(reason),
      log: options.log,
    })
  }

  connect(): Promise<void> {
    return this.#receiver.connect()
  }

  disconnect(): Promise<void> {
    return this.#receiver.disconnect()
  }

  holdPositionUntilAck(): void {
    this.#receiver.holdPositionUntilAck()
  }

  /** A bot token cannot be ended through the API; our webhook subscription and stored updates go. */
  logoutRemote(): Promise<void> {
    return this.#receiver.logoutRemote()
  }

  async send(message: OutgoingMessage): Promise<SentMessage> {
    const api = this.#requireApi()
    const chatId = chatNumber(message.chatId)
    const texts = message.text?.trim() ? splitText(message.text) : []
    if (texts.length > MAX_TEXT_PARTS) {
      throw new PermanentSendError('text.too.long', `longer than ${MAX_TEXT_LENGTH} characters`)
    }
    const files = message.files ?? []
    // One file per message (§5.1); a single-part text rides along as the first file's caption.
    const parts: { text?: string; file?: OutgoingFile }[] =
      files.length === 0
        ? texts.map((text) => ({ text }))
        : [
            ...(texts.length > 1 ? texts.map((text) => ({ text })) : []),
            ...files.map((file, i) => ({
              file,
              ...(i === 0 && texts.length === 1 ? { text: texts[0] } : {}),
            })),
          ]
    if (parts.length === 0) throw new PermanentSendError('message.empty', 'nothing to send')
    const progress = this.#progress(message.clientMessageId)
    // A new process knows nothing of an earlier attempt; the core says when one may have reached MAX.
    if (message.inDoubt && progress.mids.length === 0 && progress.inDoubtSince === undefined) {
      progress.inDoubtSince = message.inDoubt.since.getTime()
      for (const mid of message.inDoubt.knownMessageIds) this.#ownMids.add(mid)
    }
    try {
      for (const [i, part] of parts.entries()) {
        if (i < progress.mids.length) continue
        const found =
          progress.inDoubtSince === undefined
            ? undefined
            : await this.#findInDoubt(api, chatId, part, progress.inDoubtSince)
        const attachment = found || !part.file ? undefined : await uploadFile(api, part.file, message.signal)
        const started = Date.now()
        let sent: { body: { mid: string }; timestamp: number }
        try {
          sent =
            found ??
            (await this.#post(
              api,
              chatId,
              {
                ...(part.text === undefined ? {} : { text: part.text, format: 'markdown' }),
                ...(attachment ? { attachments: [attachment] } : {}),
                ...(i === 0 && message.replyTo ? { link: { type: 'reply', mid: message.replyTo } } : {}),
              },
              message.signal,
            ))
        } catch (error) {
          // No answer: the message may exist. The retry looks for it before posting again.
          if (error instanceof TransientNetworkError) progress.inDoubtSince = started
          throw error
        }
        progress.inDoubtSince = undefined
        progress.mids.push(toRemoteMessageId(sent.body.mid))
        this.#ownMids.add(sent.body.mid)
        if (this.#ownMids.size > REMEMBERED_SENDS * 4)
          this.#ownMids.delete(this.#ownMids.values().next().value!)
        progress.timestamp ??= new Date(sent.timestamp)
      }
    } catch (error) {
      throw toBridgeError(error)
    }
    progress.done = true
    return { messageIds: [...progress.mids], timestamp: progress.timestamp ?? new Date() }
  }

  async edit(_chatId: RemoteChatId, messageId: RemoteMessageId, text: string): Promise<void> {
    const api = this.#requireApi()
    if (text.length > MAX_PART_LENGTH) {
      throw new PermanentSendError(
        'text.too.long',
        `an edit is one message: at most ${MAX_PART_LENGTH} characters`,
      )
    }
    try {
      // `attachments: null` keeps the message's attachments (§5.2).
      await api.act('PUT', '/messages', {
        query: { message_id: messageId },
        json: { text, format: 'markdown', attachments: null },
      })
    } catch (error) {
      throw toBridgeError(error)
    }
  }

  async delete(_chatId: RemoteChatId, messageIds: RemoteMessageId[]): Promise<void> {
    const api = this.#requireApi()
    for (const id of messageIds) {
      try {
        await api.act('DELETE', '/messages', { query: { message_id: id } })
      } catch (error) {
        // Already gone (a retried deletion): what we wanted.
        if (error instanceof MaxApiError && error.status === 404) continue
        throw toBridgeError(error)
      }
    }
  }

  /**
   * `mark_seen` is in the official schema v0.0.33 but was removed from dev.max.ru (§6): what the customer
   * sees is unconfirmed. Best effort; after one refusal it is not tried again by this client.
   */
  async markRead(chatId: RemoteChatId, _upTo: RemoteMessageId): Promise<void> {
    if (this.#markSeenRefused || !this.#api) return
    try {
      await this.#api.act('POST', `/chats/${chatNumber(chatId)}/actions`, { json: { action: 'mark_seen' } })
    } catch (error) {
      if (error instanceof MaxApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        this.#markSeenRefused = true
      }
    }
  }

  async setTyping(chatId: RemoteChatId, active: boolean): Promise<void> {
    // MAX has `typing_on` only; the indicator lapses by itself.
    if (!active || !this.#api) return
    try {
      await this.#api.act('POST', `/chats/${chatNumber(chatId)}/actions`, { json: { action: 'typing_on' } })
    } catch {
      // Best effort by contract.
    }
  }

  async syncContacts(signal?: AbortSignal): Promise<RemoteContact[]> {
    const api = this.#requireApi()
    const contacts: RemoteContact[] = []
    for (const chatId of (await this.#dialogs.all()).keys()) {
      signal?.throwIfAborted()
      try {
        const chat = await api.call('GET', `/chats/${chatId}`, Chat, { signal })
        const user = chat.dialog_with_user
        if (!user) continue
        const avatar = user.full_avatar_url || user.avatar_url
        contacts.push({
          ...toContact(user),
          ...(avatar ? { avatarRef: toRemoteFileRef(`avatar:${user.user_id}`) } : {}),
        })
      } catch (error) {
        // A dialog the customer removed or blocked is no contact any more (the core marks it stale).
        if (error instanceof MaxApiError && (error.status === 403 || error.status === 404)) continue
        throw toBridgeError(error)
      }
    }
    return contacts
  }

  async openAvatar(userId: RemoteUserId, signal?: AbortSignal): Promise<FileStream | null> {
    const api = this.#requireApi()
    const chatId = await this.#dialogs.chatOfUser(Number(userId))
    if (chatId === undefined) return null
    try {
      const chat = await api.call('GET', `/chats/${chatId}`, Chat, { signal })
      const url = chat.dialog_with_user?.full_avatar_url || chat.dialog_with_user?.avatar_url
      return url ? await this.#fetchFile(api, url, signal) : null
    } catch (error) {
      if (error instanceof MaxApiError && (error.status === 403 || error.status === 404)) return null
      throw toBridgeError(error)
    }
  }

  /** The bot's profile as `GET /me` shows it now (§3.1). */
  async readOwnProfile(signal?: AbortSignal): Promise<OwnProfile> {
    const api = this.#requireApi()
    try {
      return ownProfileOf(await api.call('GET', '/me', BotInfo, { signal }))
    } catch (error) {
      throw toBridgeError(error)
    }
  }

  async openOwnAvatar(signal?: AbortSignal): Promise<FileStream | null> {
    const api = this.#requireApi()
    try {
      const url = smallAvatarUrl(await api.call('GET', '/me', BotInfo, { signal }))
      return url ? await this.#fetchFile(api, url, signal) : null
    } catch (error) {
      // The photo went between the two calls.
      if (error instanceof MaxApiError && error.status === 404) return null
      throw toBridgeError(error)
    }
  }

  async openFile(ref: RemoteFileRef, signal?: AbortSignal): Promise<FileStream> {
    const api = this.#requireApi()
    const data = decodeFileRef(ref)
    if (!data) throw new PermanentSendError('file.ref.invalid', 'not a MAX file reference')
    try {
      if (data.url) {
        try {
          return await this.#fetchFile(api, data.url, signal)
        } catch (error) {
          // A video's link may have lapsed: its token gives fresh ones (§4.5).
          if (!(data.type === 'video' && data.token && isGone(error))) throw error
        }
      }
      if (data.type === 'video' && data.token) {
        const info = await api.call('GET', `/videos/${encodeURIComponent(data.token)}`, VideoInfo, { signal })
        const urls = info.urls ?? {}
        const best = ['mp4_1080', 'mp4_720', 'mp4_480', 'mp4_360', 'mp4_240', 'mp4_144']
          .map((key) => urls[key])
          .find((url): url is string => Boolean(url))
        if (best) return await this.#fetchFile(api, best, signal)
      }
      throw new PermanentSendError('file.gone', 'MAX no longer serves this file')
    } catch (error) {
      if (isGone(error))
        throw new PermanentSendError('file.gone', 'MAX no longer serves this file', { cause: error })
      throw toBridgeError(error)
    }
  }

  onEvent(listener: RemoteEventListener): () => void {
    const entry: RemoteEventListener = (event) => listener(event)
    this.#listeners.add(entry)
    return () => void this.#listeners.delete(entry)
  }

  async #fetchFile(api: MaxApi, url: string, signal?: AbortSignal): Promise<FileStream> {
    const res = await api.download(url, signal)
    if (!res.body) throw new PermanentSendError('file.empty', 'MAX sent no body')
    const length = Number(res.headers.get('content-length'))
    const mimeType = res.headers.get('content-type')?.split(';')[0]?.trim()
    return {
      stream: res.body,
      ...(res.headers.has('content-length') && Number.isFinite(length) && length >= 0
        ? { size: length }
        : {}),
      ...(mimeType ? { mimeType } : {}),
    }
  }

  /** `POST /messages?chat_id=`, retried while MAX still processes the attachment (§5.4). */
  async #post(api: MaxApi, chatId: number, body: MessageBodyInput, signal?: AbortSignal) {
    const delays = this.#options.notReadyDelaysMs
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await api.call('POST', '/messages', SentMessageAnswer, {
          query: { chat_id: chatId },
          json: body,
          signal,
        })
        return answer.message
      } catch (error) {
        if (!isNotReady(error) || attempt >= delays.length) throw error
        await sleep(delays[attempt]!, signal)
      }
    }
  }

  /**
   * The bot's message a lost answer left behind: the newest of the chat's recent messages sent by the bot
   * after the lost attempt began, with the same text (and a file when the part had one), not claimed by
   * another send. MAX keeps no client ids, so this is the only way to keep a retry from showing twice.
   */
  async #findInDoubt(
    api: MaxApi,
    chatId: number,
    part: { text?: string; file?: OutgoingFile },
    since: number,
  ) {
    const { messages } = await api.call('GET', '/messages', MessageList, {
      query: { chat_id: chatId, count: 20 },
    })
    return messages.find((m) => {
      const fromBot = m.sender?.is_bot || m.sender?.user_id === this.#receiver.botUserId
      const hasFile = (m.body.attachments?.length ?? 0) > 0
      return (
        fromBot &&
        m.timestamp >= since - CLOCK_SKEW_MS &&
        !this.#ownMids.has(m.body.mid) &&
        (m.body.text ?? '') === (part.text ?? '') &&
        hasFile === Boolean(part.file)
      )
    })
  }

  #progress(clientMessageId: string): SendProgress {
    let progress = this.#sends.get(clientMessageId)
    if (!progress) {
      progress = { mids: [], done: false }
      this.#sends.set(clientMessageId, progress)
      if (this.#sends.size > REMEMBERED_SENDS) this.#sends.delete(this.#sends.keys().next().value!)
    }
    return progress
  }

  #requireApi(): MaxApi {
    if (!this.#api) throw new NeedsLoginError('logged-out')
    return this.#api
  }

  #emit(event: RemoteEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch {
        // Listeners must not throw; one that does must not starve the others.
      }
    }
  }
}

interface MessageBodyInput {
  text?: string
  format?: string
  attachments?: UploadedAttachment[]
  link?: { type: 'reply'; mid: string }
}

/** Dialog chat ids are int64 (§2.6); every one seen fits a JS number. */
function chatNumber(chatId: RemoteChatId): number {
  const value = Number(chatId)
  if (!/^-?\d+$/.test(chatId) || !Number.isSafeInteger(value) || value === 0) {
    throw new PermanentSendError('chat.id.invalid', 'not a MAX chat id')
  }
  return value
}

function isGone(error: unknown): boolean {
  return error instanceof MaxApiError && [403, 404, 410].includes(error.status)
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(done, ms)
    function done() {
      signal?.removeEventListener('abort', aborted)
      resolve()
    }
    function aborted() {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', aborted, { once: true })
  })
}

/** Compile-time: the optional capabilities this client offers (no read receipts: MAX reports none). */
const _capabilities = (client: MaxClient) =>
  client satisfies MessengerClient &
    FileDownloading &
    TypingNotifying &
    ContactAvatars &
    OwnProfileReading &
    PositionHolding
