/**
 * @module `MessengerClient`: one logged-in account at one messenger (mautrix's `NetworkAPI`). Created by
 * `MessengerConnector.loadAccount` without I/O, driven by the account actor: it connects, reports its
 * connection state and the remote events through `onEvent`, and carries out what operators do. Errors of
 * actions are thrown as the typed errors of `errors.ts`; connection trouble is reported, never thrown.
 */
import type { AccountId, ClientMessageId, RemoteChatId, RemoteMessageId } from './ids.ts'
import type { RemoteContact, RemoteEvent } from './remote-event.ts'

/** A file to send, opened only when the client uploads it. */
export interface OutgoingFile {
  name: string
  mimeType: string
  size?: number
  /** Opens the body (from object storage). Called at most once per attempt. */
  open(signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>
}

export interface OutgoingMessage {
  chatId: RemoteChatId
  /**
   * Chosen by the core before the first attempt and repeated on every retry: a client whose messenger
   * accepts a client-side id (Telegram `random_id`, the sandbox) passes it on, so a repeat is not shown
   * twice.
   */
  clientMessageId: ClientMessageId
  text?: string
  files?: OutgoingFile[]
  replyTo?: RemoteMessageId
  /**
   * Set when an earlier attempt may have reached the messenger (the process died between the send and its
   * record, or an answer was lost). A messenger without client-side ids (MAX) looks for the message among the
   * chat's recent ones before sending again; `knownMessageIds` are this account's messages in that chat the
   * core already recorded since, which are never the one being looked for.
   */
  inDoubt?: { since: Date; knownMessageIds: RemoteMessageId[] }
  signal?: AbortSignal
}

export interface SentMessage {
  /** One id per message the messenger created (a text with files may become several); never empty. */
  messageIds: RemoteMessageId[]
  timestamp: Date
}

/** Listener of `onEvent`; it must not throw and must return quickly (it hands the event to a queue). */
export type RemoteEventListener = (event: RemoteEvent) => void

export interface MessengerClient {
  readonly accountId: AccountId

  /**
   * Connects, or reconnects after a loss. Never rejects: the outcome is reported as a `connection` event
   * (`connected`, `transient-disconnect`, `bad-credentials`, `flood-wait`) before the promise resolves.
   * Idempotent: on a connected client it reports `connected` again and does nothing else.
   */
  connect(): Promise<void>

  /**
   * Closes the connection and stops any retrying of the client's own, keeping the session for the next
   * `connect`. Idempotent; never rejects. No events are emitted after it resolves.
   */
  disconnect(): Promise<void>

  /**
   * Ends the session at the messenger (Telegram `auth.logOut`) where the messenger has such a thing, so the
   * login disappears from the user's device list (PRIVACY R1). Best effort: the caller deletes the local
   * session afterwards either way. May connect briefly to do so.
   */
  logoutRemote(): Promise<void>

  /**
   * Sends a text and/or files to a chat.
   * @throws FloodWaitError, TransientNetworkError (retry), PermanentSendError (dead-letter), NeedsLoginError
   */
  send(message: OutgoingMessage): Promise<SentMessage>

  /** Replaces the text of a message the account sent. @throws like `send`, or UnsupportedError */
  edit(chatId: RemoteChatId, messageId: RemoteMessageId, text: string): Promise<void>

  /** Deletes messages the account sent, for both sides where possible. @throws like `send` */
  delete(chatId: RemoteChatId, messageIds: RemoteMessageId[]): Promise<void>

  /**
   * Marks the chat read up to and including `upTo` (the customer sees it read). Resolves without doing
   * anything where the messenger has no read marks.
   */
  markRead(chatId: RemoteChatId, upTo: RemoteMessageId): Promise<void>

  /**
   * Fetches the account's current contacts (the people it has chats with). The caller replaces its cache with
   * the result and marks missing ones stale (PRIVACY R6). @throws like `send`
   */
  syncContacts(signal?: AbortSignal): Promise<RemoteContact[]>

  /**
   * Subscribes to remote events, connection states included. Events arrive in the order the messenger
   * delivered them within a chat. @returns the function that unsubscribes (idempotent).
   */
  onEvent(listener: RemoteEventListener): () => void
}
