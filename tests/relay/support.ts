/**
 * Shared set-up of the relay suites: a real database, a real LocalFileStore in a temp dir, a seeded portal
 * and account, and `TestMessengerClient` — a client that keeps what it was sent (once per client message
 * id, like Telegram's `random_id`), throws queued faults on demand and emits remote events.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type {
  MessengerClient,
  OutgoingMessage,
  RemoteEventListener,
  SentMessage,
} from '../../src/bridge/client.ts'
import {
  type AccountId,
  type RemoteChatId,
  type RemoteMessageId,
  toAccountId,
  toRemoteChatId,
  toRemoteFileRef,
  toRemoteMessageId,
  toRemoteUserId,
} from '../../src/bridge/ids.ts'
import type { RemoteEvent, RemoteFile, RemoteMessageEvent } from '../../src/bridge/remote-event.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { repositories, seedAccount } from '../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

export interface HeldMessage {
  chatId: string
  clientMessageId: string
  text?: string
  files: { name: string; mimeType: string; body: string }[]
  messageIds: string[]
}

/** What a test client is asked to do; a queued fault is thrown by the next call of its kind. */
export class TestMessengerClient implements MessengerClient {
  readonly accountId: AccountId
  /** Messages the "messenger" holds, once per client message id. */
  readonly held: HeldMessage[] = []
  readonly edits: { chatId: string; messageId: string; text: string }[] = []
  readonly deletes: { chatId: string; messageIds: string[] }[] = []
  readonly reads: { chatId: string; upTo: string }[] = []
  sendCalls = 0
  readonly faults: Error[] = []
  readonly #byClientId = new Map<string, HeldMessage>()
  readonly #listeners = new Set<RemoteEventListener>()
  #nextId = 1000

  constructor(accountId: string) {
    this.accountId = toAccountId(accountId)
  }

  async connect() {}
  async disconnect() {}
  async logoutRemote() {}
  async syncContacts() {
    return []
  }

  async send(message: OutgoingMessage): Promise<SentMessage> {
    this.sendCalls++
    this.#fault()
    const known = this.#byClientId.get(message.clientMessageId)
    if (known) return { messageIds: known.messageIds.map(toRemoteMessageId), timestamp: new Date() }
    const files = []
    for (const file of message.files ?? []) {
      const body = await new Response(await file.open()).text()
      files.push({ name: file.name, mimeType: file.mimeType, body })
    }
    const count = Math.max(1, files.length)
    const messageIds = Array.from({ length: count }, () => `m${this.#nextId++}`)
    const held: HeldMessage = {
      chatId: message.chatId,
      clientMessageId: message.clientMessageId,
      text: message.text,
      files,
      messageIds,
    }
    this.held.push(held)
    this.#byClientId.set(message.clientMessageId, held)
    return { messageIds: messageIds.map(toRemoteMessageId), timestamp: new Date() }
  }

  async edit(chatId: RemoteChatId, messageId: RemoteMessageId, text: string) {
    this.#fault()
    this.edits.push({ chatId, messageId, text })
  }

  async delete(chatId: RemoteChatId, messageIds: RemoteMessageId[]) {
    this.#fault()
    this.deletes.push({ chatId, messageIds: [...messageIds] })
  }

  async markRead(chatId: RemoteChatId, upTo: RemoteMessageId) {
    this.reads.push({ chatId, upTo })
  }

  onEvent(listener: RemoteEventListener) {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  emit(event: RemoteEvent) {
    for (const listener of this.#listeners) listener(event)
  }

  #fault() {
    const fault = this.faults.shift()
    if (fault) throw fault
  }
}

/** A remote file whose body is `content`; `opens` counts the downloads. */
export function remoteFile(
  content: string,
  { name, mimeType = 'text/plain', gate }: { name?: string; mimeType?: string; gate?: Promise<void> } = {},
): RemoteFile & { opens: number } {
  const file = {
    ref: toRemoteFileRef(`ref-${content.length}`),
    kind: 'document' as const,
    name,
    mimeType,
    opens: 0,
    async open() {
      file.opens++
      await gate
      return { stream: new Blob([content]).stream(), mimeType }
    },
  }
  return file
}

export function messageEvent(
  accountId: string,
  chatId: string,
  messageId: string,
  extra: Partial<RemoteMessageEvent> = {},
): RemoteMessageEvent {
  return {
    type: 'message',
    accountId: toAccountId(accountId),
    chat: { accountId: toAccountId(accountId), chatId: toRemoteChatId(chatId) },
    timestamp: new Date('2025-03-01T10:00:00Z'),
    messageId: toRemoteMessageId(messageId),
    sender: { userId: toRemoteUserId(`user-${chatId}`), fromMe: false },
    text: `hello ${messageId}`,
    files: [],
    ...extra,
  }
}

export interface RelayWorld {
  db: TestDatabase
  repos: Repositories
  files: LocalFileStore
  notified: string[]
  newAccount(): Promise<Account>
  close(): Promise<void>
}

export async function createWorld(): Promise<RelayWorld> {
  const db = await createTestDatabase()
  const repos = repositories(db.sql, { deliveries: { maxAttempts: 5 } })
  const dir = await mkdtemp(join(tmpdir(), 'olchat-relay-'))
  const files = new LocalFileStore({
    dir,
    baseUrl: 'https://olchat.example.com',
    signingKey: randomBytes(32),
  })
  const portal = (await seedAccount(repos)).portalId
  return {
    db,
    repos,
    files,
    notified: [],
    newAccount: () => seedAccount(repos, portal),
    async close() {
      await db.drop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Object keys under an account's prefix. */
export async function objectKeys(world: RelayWorld, account: Account): Promise<string[]> {
  const keys: string[] = []
  const prefix = `p/${account.portalId}/a/${account.id}/`
  for await (const object of world.files.listExpired(new Date(Date.now() + 60_000), prefix)) {
    keys.push(object.key)
  }
  return keys.sort()
}

export async function readObject(world: RelayWorld, key: string): Promise<string | undefined> {
  const body = await world.files.get(key)
  if (!body) return undefined
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks).toString()
}
