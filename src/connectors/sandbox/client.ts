/**
 * @module `SandboxClient`: one logged-in sandbox account. Actions are plain HTTP calls with the session token
 * from the session store; remote events come over the live WebSocket (`live.ts`). Every send carries the
 * caller's `clientMessageId` as the sandbox's `randomId`, so a retry after an answer was lost shows once.
 */
import * as v from 'valibot'
import type {
  ContactAvatars,
  FileDownloading,
  OwnProfile,
  OwnProfileReading,
  PositionHolding,
  ReadReceiptReporting,
  TypingNotifying,
} from '../../bridge/capabilities.ts'
import type {
  MessengerClient,
  OutgoingFile,
  OutgoingMessage,
  RemoteEventListener,
  SentMessage,
} from '../../bridge/client.ts'
import { NeedsLoginError, PermanentSendError } from '../../bridge/errors.ts'
import {
  type AccountId,
  type RemoteChatId,
  type RemoteFileRef,
  type RemoteMessageId,
  toRemoteMessageId,
  toRemoteUserId,
} from '../../bridge/ids.ts'
import type { SessionStore } from '../../bridge/login.ts'
import type { FileStream, RemoteContact, RemoteEvent } from '../../bridge/remote-event.ts'
import type { SandboxApi, SandboxFile, SandboxMessage, SandboxUser } from './api.ts'
import { toBridgeError } from './errors.ts'
import { LiveConnection, type LiveOptions } from './live.ts'
import { ownProfileOf, SandboxMe } from './own-profile.ts'
import { decodeText, SESSION_KEYS } from './session.ts'

export interface SandboxClientOptions extends Partial<LiveOptions> {
  accountId: AccountId
  session: SessionStore
  api: SandboxApi
}

export class SandboxClient
  implements
    MessengerClient,
    FileDownloading,
    TypingNotifying,
    ReadReceiptReporting,
    OwnProfileReading,
    PositionHolding
{
  readonly accountId: AccountId
  readonly reportsReadReceipts = true
  private readonly listeners = new Set<RemoteEventListener>()
  private readonly api: SandboxApi
  private readonly session: SessionStore
  private readonly live: LiveConnection

  constructor(options: SandboxClientOptions) {
    this.accountId = options.accountId
    this.api = options.api
    this.session = options.session
    this.live = new LiveConnection({
      accountId: options.accountId,
      session: options.session,
      api: options.api,
      emit: (event) => this.emit(event),
      openFile: (id, signal) => this.openFile(id as RemoteFileRef, signal),
      pingIntervalMs: options.pingIntervalMs ?? 20_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
    })
  }

  connect(): Promise<void> {
    return this.live.connect()
  }

  disconnect(): Promise<void> {
    return this.live.disconnect()
  }

  holdPositionUntilAck(): void {
    this.live.holdPositionUntilAck()
  }

  async logoutRemote(): Promise<void> {
    // Close our own socket first: the logout closes it from the far side, which would read as a revocation.
    await this.live.disconnect()
    const token = decodeText(await this.session.get(SESSION_KEYS.token))
    if (!token) return
    try {
      await this.api.call('POST', '/auth/logout', { token })
    } catch (error) {
      const mapped = toBridgeError(error)
      if (!(mapped instanceof NeedsLoginError)) throw mapped
    }
  }

  async send(message: OutgoingMessage): Promise<SentMessage> {
    const chat = chatPath(message.chatId)
    return this.authed(async (token) => {
      const fileIds: string[] = []
      for (const file of message.files ?? []) fileIds.push(await this.upload(token, file, message.signal))
      // A text with files goes as the caption of the first file (Telegram's shape); each further part gets
      // its own stable random id derived from the caller's.
      const parts = fileIds.length
        ? fileIds.map((fileId, i) => ({ fileId, text: i === 0 ? message.text : undefined }))
        : [{ fileId: undefined, text: message.text }]
      const sent: SandboxMessage[] = []
      for (const [i, part] of parts.entries()) {
        const answer = await this.api.call<{ message: SandboxMessage }>('POST', `${chat}/messages`, {
          token,
          signal: message.signal,
          json: {
            ...(part.text === undefined ? {} : { text: part.text }),
            ...(part.fileId === undefined ? {} : { fileId: part.fileId }),
            randomId: i === 0 ? message.clientMessageId : `${message.clientMessageId}.${i}`,
            ...(message.replyTo === undefined ? {} : { replyTo: Number(message.replyTo) }),
          },
        })
        sent.push(answer.message)
      }
      return {
        messageIds: sent.map((m) => toRemoteMessageId(String(m.id))),
        timestamp: new Date(sent[0]!.date),
      }
    })
  }

  async edit(chatId: RemoteChatId, messageId: RemoteMessageId, text: string): Promise<void> {
    const path = `${chatPath(chatId)}/messages/${messageNumber(messageId)}`
    await this.authed(async (token) => {
      try {
        await this.api.call('PATCH', path, { token, json: { text } })
      } catch (error) {
        // A retried edit whose first try went through: the text is already what we want.
        if ((error as { error?: string }).error !== 'MESSAGE_NOT_MODIFIED') throw error
      }
    })
  }

  async delete(chatId: RemoteChatId, messageIds: RemoteMessageId[]): Promise<void> {
    const chat = chatPath(chatId)
    await this.authed(async (token) => {
      // Idempotent at the sandbox: an already deleted id answers {deleted: 0}.
      for (const id of messageIds) {
        await this.api.call('DELETE', `${chat}/messages/${messageNumber(id)}`, { token })
      }
    })
  }

  async markRead(chatId: RemoteChatId, upTo: RemoteMessageId): Promise<void> {
    const path = `${chatPath(chatId)}/read`
    await this.authed((token) => this.api.call('POST', path, { token, json: { maxId: messageNumber(upTo) } }))
  }

  async syncContacts(signal?: AbortSignal): Promise<RemoteContact[]> {
    return this.authed(async (token) => {
      const { contacts } = await this.api.call<{ contacts: (SandboxUser & { phone?: string })[] }>(
        'GET',
        '/contacts',
        { token, signal },
      )
      return contacts.map((c) => ({
        userId: toRemoteUserId(String(c.id)),
        firstName: c.name,
        ...(c.username === undefined ? {} : { username: c.username }),
        ...(c.phone === undefined ? {} : { phone: c.phone }),
      }))
    })
  }

  async readOwnProfile(signal?: AbortSignal): Promise<OwnProfile> {
    return ownProfileOf(await this.me(signal))
  }

  async openOwnAvatar(signal?: AbortSignal): Promise<FileStream | null> {
    const { photo } = await this.me(signal)
    return photo ? this.openFile(photo.fileId as RemoteFileRef, signal) : null
  }

  async setTyping(chatId: RemoteChatId, active: boolean): Promise<void> {
    try {
      const path = `${chatPath(chatId)}/typing`
      await this.authed((token) => this.api.call('POST', path, { token, json: { cancel: !active } }))
    } catch {
      // Best effort by contract: a lost "typing…" is not worth an error.
    }
  }

  async openFile(ref: RemoteFileRef, signal?: AbortSignal): Promise<FileStream> {
    return this.authed(async (token) => {
      const res = await this.api.raw('GET', `/files/${encodeURIComponent(ref)}`, { token, signal })
      if (!res.body) throw new PermanentSendError('FILE_EMPTY', 'the sandbox sent no body')
      const length = Number(res.headers.get('content-length'))
      const mimeType = res.headers.get('content-type') ?? undefined
      return {
        stream: res.body,
        ...(Number.isFinite(length) && length >= 0 && res.headers.has('content-length')
          ? { size: length }
          : {}),
        ...(mimeType ? { mimeType } : {}),
      }
    })
  }

  onEvent(listener: RemoteEventListener): () => void {
    // A wrapper per subscription, so subscribing the same function twice gives two independent handles.
    const entry: RemoteEventListener = (event) => listener(event)
    this.listeners.add(entry)
    return () => void this.listeners.delete(entry)
  }

  private emit(event: RemoteEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch {
        // Listeners must not throw; one that does must not starve the others.
      }
    }
  }

  /** Runs a call with the session token, mapping every failure to the bridge's typed errors. */
  private async authed<T>(work: (token: string) => Promise<T>): Promise<T> {
    const token = decodeText(await this.session.get(SESSION_KEYS.token))
    if (!token) throw new NeedsLoginError('logged-out')
    try {
      return await work(token)
    } catch (error) {
      throw toBridgeError(error)
    }
  }

  private me(signal?: AbortSignal): Promise<SandboxMe> {
    return this.authed(async (token) =>
      v.parse(SandboxMe, await this.api.call<unknown>('GET', '/me', { token, signal })),
    )
  }

  private async upload(token: string, file: OutgoingFile, signal?: AbortSignal): Promise<string> {
    const body = await file.open(signal)
    const { file: stored } = await this.api.call<{ file: SandboxFile }>(
      'POST',
      `/files?name=${encodeURIComponent(file.name)}`,
      { token, body, signal, headers: { 'content-type': file.mimeType || 'application/octet-stream' } },
    )
    return stored.id
  }
}

/** `/chats/<id>`; the sandbox's chat ids are the customers' numeric ids. */
function chatPath(chatId: RemoteChatId): string {
  if (!/^\d+$/.test(chatId)) throw new PermanentSendError('PEER_ID_INVALID', `not a sandbox chat: ${chatId}`)
  return `/chats/${chatId}`
}

function messageNumber(id: RemoteMessageId): number {
  if (!/^\d+$/.test(id)) throw new PermanentSendError('MESSAGE_ID_INVALID', `not a sandbox message: ${id}`)
  return Number(id)
}

/** Compile-time: the optional capabilities this client offers, and the one it does not (no avatars). */
const _capabilities = (client: SandboxClient) =>
  client satisfies MessengerClient &
    FileDownloading &
    TypingNotifying &
    ReadReceiptReporting &
    OwnProfileReading &
    PositionHolding
type _NoAvatars = SandboxClient extends ContactAvatars ? never : true
