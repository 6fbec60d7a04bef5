/**
 * @module `TelegramClientAdapter`: one logged-in Telegram account as a `MessengerClient`. Each `connect()`
 * that finds no healthy connection builds a fresh mtcute client over the account's storage, with the device
 * the account logged in with; updates become remote events (`updates.ts`), actions use stable `random_id`s
 * (`send.ts`). A login completed since the last start waits in the session store; the first connect moves it
 * into the account's storage before mtcute reads it (`staging.ts`).
 *
 * Health (reference §2.6, §7.3–7.4): mtcute raises no event for a revoked session, so every call goes through
 * one guard that turns the 401 family (and 406 `AUTH_KEY_DUPLICATED`) into `bad-credentials` and forgets the
 * session, and a cheap `updates.getState` every `healthIntervalMs` (30 s) finds a revocation on an idle
 * account too — within 60 s. The same check compares Telegram's pts with the client's: no progress towards
 * it for `stuckAfterMs` while connected means a stuck update loop, reported as a transient loss so the
 * account actor reconnects (a fresh client catches up from the stored position). mtcute reconnects sockets
 * itself; its `connecting` after `connected` is reported as `transient-disconnect`, the next `connected` as
 * `connected`.
 */
import type { ITelegramStorageProvider } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
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
  OutgoingMessage,
  RemoteEventListener,
  SentMessage,
} from '../../bridge/client.ts'
import { NeedsLoginError } from '../../bridge/errors.ts'
import type {
  AccountId,
  RemoteChatId,
  RemoteFileRef,
  RemoteMessageId,
  RemoteUserId,
} from '../../bridge/ids.ts'
import type { SessionStore } from '../../bridge/login.ts'
import type { ConnectionState, FileStream, RemoteContact, RemoteEvent } from '../../bridge/remote-event.ts'
import type { Logger } from '../../log/logger.ts'
import type { TelegramClientFactory } from './client-factory.ts'
import { listContacts, openAvatar } from './contacts.ts'
import { deviceOf, type TelegramDevice } from './device.ts'
import { floodWaitSeconds, isSessionGone, toBridgeError } from './errors.ts'
import { parseOperatorHtml } from './format.ts'
import { MemoryMessageLog, type MessageLog } from './message-log.ts'
import { openOwnAvatar, readOwnProfile } from './own-profile.ts'
import { PositionGate } from './position.ts'
import { sendMessage, userIdOf } from './send.ts'
import { SESSION_KEYS } from './session-keys.ts'
import { importStaged, readStaged, type StagedSession, stagingStorage, writeStaged } from './staging.ts'
import {
  DEFAULT_TUNING,
  localPts,
  systemClock,
  type TelegramClientTuning,
  type TelegramClock,
} from './tuning.ts'
import { UpdateRouter } from './updates.ts'

export interface TelegramClientAdapterOptions extends Partial<TelegramClientTuning> {
  accountId: AccountId
  session: SessionStore
  /** mtcute's storage of this account (auth key, update state, peers). */
  storage: ITelegramStorageProvider
  createClient: TelegramClientFactory
  /** Presented when the account has no recorded device (logged in before devices were recorded). */
  device: TelegramDevice
  messages?: MessageLog
  clock?: TelegramClock
  log?: Logger
}

type Capabilities = MessengerClient &
  TypingNotifying &
  ReadReceiptReporting &
  FileDownloading &
  ContactAvatars &
  OwnProfileReading &
  PositionHolding

export class TelegramClientAdapter implements Capabilities {
  readonly accountId: AccountId
  readonly reportsReadReceipts = true
  readonly #listeners = new Set<RemoteEventListener>()
  readonly #tuning: TelegramClientTuning
  readonly #clock: TelegramClock
  readonly #messages: MessageLog
  readonly #gate: PositionGate
  readonly #router: UpdateRouter
  #holding = false
  #tg: TelegramClient | undefined
  #detach: (() => void) | undefined
  /** mtcute lost its socket and is reconnecting on its own. */
  #interrupted = false
  #lost = false
  #health: unknown
  /** Since when Telegram's pts has been ahead of the client's, and the client's pts then. */
  #behind: { since: number; localPts: number } | undefined
  #connecting: Promise<void> | undefined

  constructor(private readonly options: TelegramClientAdapterOptions) {
    this.accountId = options.accountId
    this.#tuning = {
      healthIntervalMs: options.healthIntervalMs ?? DEFAULT_TUNING.healthIntervalMs,
      stuckAfterMs: options.stuckAfterMs ?? DEFAULT_TUNING.stuckAfterMs,
      maxFileSize: options.maxFileSize ?? DEFAULT_TUNING.maxFileSize,
    }
    this.#clock = options.clock ?? systemClock
    this.#messages = options.messages ?? new MemoryMessageLog()
    this.#gate = new PositionGate((error) => this.#logError(error, 'update position not saved'))
    this.#router = new UpdateRouter({
      accountId: this.accountId,
      messages: this.#messages,
      gate: this.#gate,
      holding: () => this.#holding,
      emit: (event) => this.#emit(event),
      onError: (error) => this.#logError(error, 'telegram update dropped'),
    })
  }

  holdPositionUntilAck(): void {
    this.#holding = true
  }

  connect(): Promise<void> {
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  async #connect(): Promise<void> {
    if (this.#tg && !this.#interrupted) return this.#report('connected')
    // Interrupted or stuck: a fresh client catches up from the stored position.
    await this.#close()
    if ((await this.options.session.get(SESSION_KEYS.user)) === undefined) {
      return this.#report('bad-credentials', new NeedsLoginError('logged-out'))
    }
    if (!(await this.#takeStaged())) return
    const tg = await this.#open()
    this.#detach = this.#router.attach(tg)
    this.#watchConnection(tg)
    try {
      await tg.getMe()
      await tg.startUpdatesLoop()
    } catch (error) {
      this.#detach()
      this.#detach = undefined
      await tg.destroy().catch(() => {})
      if (isSessionGone(error)) return this.#sessionLost(error)
      const seconds = floodWaitSeconds(error)
      if (seconds !== undefined) return this.#report('flood-wait', error, seconds)
      return this.#report('transient-disconnect', error)
    }
    this.#tg = tg
    this.#lost = false
    this.#interrupted = false
    this.#behind = undefined
    this.#scheduleHealth()
    this.#report('connected')
  }

  async disconnect(): Promise<void> {
    await this.#connecting?.catch(() => {})
    await this.#close()
  }

  async logoutRemote(): Promise<void> {
    await this.#connecting?.catch(() => {})
    // A login still staged (never started here, or a refused re-login's) logs out from its staged storage:
    // the account's tables hold another session or none, and stay as they are.
    const read = this.#tg ? undefined : await readStaged(this.options.session)
    const staged = read === 'invalid' ? undefined : read
    const tg = this.#tg ?? (staged ? await this.#openStaged(staged) : await this.#open())
    this.#tg = undefined
    this.#stopHealth()
    try {
      // The raw call: mtcute's logOut() also tidies the storage, which is deleted as a whole below.
      await tg.call({ _: 'auth.logOut' })
    } catch (error) {
      if (!isSessionGone(error)) throw toBridgeError(error)
    } finally {
      await tg.destroy().catch(() => {})
      if (staged) await this.#forgetLogin()
      else await this.#forgetSession()
    }
  }

  async send(message: OutgoingMessage): Promise<SentMessage> {
    return this.#guard(async (tg) => {
      const sent = await sendMessage(tg, message, { maxFileSize: this.#tuning.maxFileSize })
      // Sent messages are handed on by definition: a catch-up echo is dropped, a deletion finds its chat.
      for (const id of sent.messageIds) await this.#messages.record(Number(id), Number(message.chatId))
      return sent
    })
  }

  async edit(chatId: RemoteChatId, messageId: RemoteMessageId, text: string): Promise<void> {
    await this.#guard(async (tg) => {
      try {
        await tg.editMessage({
          chatId: userIdOf(chatId),
          message: Number(messageId),
          text: parseOperatorHtml(text),
        })
      } catch (error) {
        // A retried edit whose first try went through: the text is already what we want.
        if (!(error as { text?: string }).text?.startsWith('MESSAGE_NOT_MODIFIED')) throw error
      }
    })
  }

  async delete(chatId: RemoteChatId, messageIds: RemoteMessageId[]): Promise<void> {
    await this.#guard((tg) =>
      tg.deleteMessagesById(userIdOf(chatId), messageIds.map(Number), { revoke: true }),
    )
  }

  async markRead(chatId: RemoteChatId, upTo: RemoteMessageId): Promise<void> {
    await this.#guard((tg) => tg.readHistory(userIdOf(chatId), { maxId: Number(upTo) }))
  }

  async syncContacts(signal?: AbortSignal): Promise<RemoteContact[]> {
    return this.#guard((tg) => listContacts(tg, signal))
  }

  async openAvatar(userId: RemoteUserId, signal?: AbortSignal): Promise<FileStream | null> {
    return this.#guard((tg) => openAvatar(tg, userId, signal))
  }

  async readOwnProfile(signal?: AbortSignal): Promise<OwnProfile> {
    return this.#guard((tg) => readOwnProfile(tg, signal))
  }

  async openOwnAvatar(signal?: AbortSignal): Promise<FileStream | null> {
    return this.#guard((tg) => openOwnAvatar(tg, signal))
  }

  async openFile(ref: RemoteFileRef, signal?: AbortSignal): Promise<FileStream> {
    return this.#guard(async (tg) => ({
      // A file id (mtcute's, with the file reference); Telegram expires those after a day or two (§5).
      stream: tg.downloadAsStream(ref, signal ? { abortSignal: signal } : {}),
    }))
  }

  async setTyping(chatId: RemoteChatId, active: boolean): Promise<void> {
    try {
      await this.#guard((tg) => tg.sendTyping(userIdOf(chatId), active ? 'typing' : 'cancel'))
    } catch {
      // Best effort by contract.
    }
  }

  onEvent(listener: RemoteEventListener): () => void {
    const entry: RemoteEventListener = (event) => listener(event)
    this.#listeners.add(entry)
    return () => void this.#listeners.delete(entry)
  }

  async #open(): Promise<TelegramClient> {
    const device = await deviceOf(this.options.session, this.options.device)
    this.#gate.reset()
    const storage = this.#holding ? this.#gate.wrap(this.options.storage) : this.options.storage
    return this.options.createClient(storage, device)
  }

  /** A client over a staged login's contents in memory. */
  async #openStaged(staged: StagedSession): Promise<TelegramClient> {
    const storage = stagingStorage()
    await writeStaged(staged, storage)
    return this.options.createClient(storage, await deviceOf(this.options.session, this.options.device))
  }

  /**
   * A login completed since the last start: its staged storage replaces the account's rows before mtcute
   * reads them (`staging.ts`). @returns false when the client must not start (the outcome is reported).
   */
  async #takeStaged(): Promise<boolean> {
    let outcome: Awaited<ReturnType<typeof importStaged>>
    try {
      outcome = await importStaged(this.options.session, this.options.storage)
    } catch (error) {
      this.#report('transient-disconnect', error)
      return false
    }
    if (outcome !== 'invalid') return true
    this.options.log?.error({ accountId: this.accountId }, 'telegram: the staged login does not parse')
    await this.#sessionLost(new NeedsLoginError('bad-credentials'))
    return false
  }

  async #close(): Promise<void> {
    const tg = this.#tg
    this.#tg = undefined
    this.#interrupted = false
    this.#stopHealth()
    this.#detach?.()
    this.#detach = undefined
    await tg?.destroy().catch(() => {})
  }

  /** Runs a call on the live client; the 401 family ends the session, everything maps to typed errors. */
  async #guard<T>(work: (tg: TelegramClient) => Promise<T>): Promise<T> {
    const tg = this.#tg
    if (!tg || this.#lost) throw new NeedsLoginError('logged-out')
    try {
      return await work(tg)
    } catch (error) {
      // Only while this client is still the live one: nothing is reported after disconnect().
      if (isSessionGone(error) && tg === this.#tg) await this.#sessionLost(error)
      throw toBridgeError(error)
    }
  }

  #scheduleHealth(): void {
    this.#stopHealth()
    this.#health = this.#clock.setTimeout(() => {
      this.#health = undefined
      void this.#checkHealth().finally(() => {
        if (this.#tg && !this.#lost) this.#scheduleHealth()
      })
    }, this.#tuning.healthIntervalMs)
  }

  #stopHealth(): void {
    if (this.#health !== undefined) this.#clock.clearTimeout(this.#health)
    this.#health = undefined
  }

  async #checkHealth(): Promise<void> {
    const tg = this.#tg
    if (!tg) return
    let serverPts: number
    try {
      serverPts = (await this.#guard((client) => client.call({ _: 'updates.getState' }))).pts
    } catch {
      // #guard() already reported a lost session; other failures are the network's and pass.
      return
    }
    if (tg !== this.#tg || this.#interrupted) return
    const local = localPts(tg)
    if (local === undefined || serverPts <= local) {
      this.#behind = undefined
      return
    }
    const now = this.#clock.now()
    if (!this.#behind || local > this.#behind.localPts) {
      this.#behind = { since: now, localPts: local }
      return
    }
    if (now - this.#behind.since < this.#tuning.stuckAfterMs) return
    this.options.log?.warn(
      { accountId: this.accountId, serverPts, localPts: local },
      'telegram: update loop stuck, reconnecting',
    )
    this.#interrupted = true
    this.#behind = undefined
    this.#report('transient-disconnect', new Error('telegram update loop stuck'))
  }

  #watchConnection(tg: TelegramClient): void {
    tg.onConnectionState.add((state) => {
      if (tg !== this.#tg || this.#lost) return
      if (state === 'connecting' && !this.#interrupted) {
        this.#interrupted = true
        this.#report('transient-disconnect')
      } else if (state === 'connected' && this.#interrupted) {
        this.#interrupted = false
        this.#report('connected')
      }
    })
    tg.onError.add((error: Error) => {
      if (isSessionGone(error)) void this.#sessionLost(error)
      else this.#logError(error, 'telegram client error')
    })
  }

  /** Revoked, logged out elsewhere or duplicated: stop, forget the session, tell the actor once. */
  async #sessionLost(error: unknown): Promise<void> {
    if (this.#lost) return
    this.#lost = true
    await this.#close()
    await this.#forgetSession()
    this.#report('bad-credentials', toBridgeError(error))
  }

  /** R1: the auth key, update state and peer cache of this account go, and the login marker with them. */
  async #forgetSession(): Promise<void> {
    const { authKeys, kv, peers, refMessages } = this.options.storage
    await Promise.all([
      authKeys.deleteAll(),
      kv.deleteAll(),
      peers.deleteAll(),
      refMessages.deleteAll(),
    ]).catch((error: unknown) => this.#logError(error, 'telegram session not fully deleted'))
    await this.#forgetLogin()
  }

  /** The login marker, and a login not yet moved into the account's tables. */
  async #forgetLogin(): Promise<void> {
    await this.options.session.delete(SESSION_KEYS.staged)
    await this.options.session.delete(SESSION_KEYS.user)
  }

  #report(state: ConnectionState, error?: unknown, floodWaitSeconds?: number): void {
    this.#emit({
      type: 'connection',
      accountId: this.accountId,
      state,
      ...(floodWaitSeconds === undefined ? {} : { floodWaitSeconds }),
      ...(error === undefined ? {} : { error }),
      timestamp: new Date(),
    })
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

  #logError(error: unknown, message: string): void {
    this.options.log?.warn({ err: error, accountId: this.accountId }, message)
  }
}

const _capabilities = (client: TelegramClientAdapter) => client satisfies Capabilities
