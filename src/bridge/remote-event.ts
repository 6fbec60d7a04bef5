/**
 * @module What a client reports: normalised remote events (mautrix's `RemoteEvent`). Every event names its
 * account, its chat where it has one, the messenger's ids and the messenger's own timestamp; the core adds
 * receive times, dedups on (account, remote message id) and relays. Files travel as handles that open a
 * stream on demand — never as buffers in an event.
 */
import type {
  AccountId,
  ChatKey,
  ClientMessageId,
  RemoteFileRef,
  RemoteMessageId,
  RemoteUserId,
} from './ids.ts'

/** The kind of a file as the messenger presents it (decides how Open Lines shows it). */
export type RemoteFileKind = 'photo' | 'video' | 'voice' | 'audio' | 'sticker' | 'document'

/** A readable body with what is known about it up front. */
export interface FileStream {
  stream: ReadableStream<Uint8Array>
  /** Byte length when the messenger told it (lets object storage take a single PUT). */
  size?: number
  mimeType?: string
}

/** A file in an incoming event. Nothing is downloaded until `open` is called. */
export interface RemoteFile {
  /** Opens the same file again later, through the client's file capability (`FileDownloading`). */
  ref: RemoteFileRef
  kind: RemoteFileKind
  name?: string
  mimeType?: string
  size?: number
  /** Starts the download. Each call opens a new stream; the caller must consume or cancel it. */
  open(signal?: AbortSignal): Promise<FileStream>
}

/** Who sent it; `fromMe` marks the account's own messages sent from another device or app. */
export interface RemoteSender {
  userId: RemoteUserId
  fromMe: boolean
}

/**
 * Set by a client that holds its update position for the core (`PositionHolding`): the core calls it once
 * the event is durably handled (or deliberately dropped). Idempotent. Absent on other clients.
 */
interface Acknowledgeable {
  ack?: () => void
}

interface ChatEventBase extends Acknowledgeable {
  accountId: AccountId
  chat: ChatKey
  /** When it happened at the messenger (not when we received it). */
  timestamp: Date
}

export interface RemoteMessageEvent extends ChatEventBase {
  type: 'message'
  messageId: RemoteMessageId
  sender: RemoteSender
  text?: string
  files: RemoteFile[]
  replyTo?: RemoteMessageId
  /** Our id when the message is the echo of one we sent (lets the relay skip it). */
  clientMessageId?: ClientMessageId
  /**
   * Set on the account's own messages (`sender.fromMe`) in a chat with one person: that person, the chat's
   * contact (the sender is the account itself). Lets the core relay the owner's message in the customer's
   * Open Lines chat even when the owner writes first.
   */
  peer?: RemoteUserId
}

export interface RemoteEditEvent extends ChatEventBase {
  type: 'edit'
  messageId: RemoteMessageId
  sender: RemoteSender
  text: string
}

export interface RemoteDeleteEvent extends ChatEventBase {
  type: 'delete'
  messageIds: RemoteMessageId[]
}

/** The contact read the chat up to and including `upTo` (only where the messenger reports it). */
export interface RemoteReadReceiptEvent extends ChatEventBase {
  type: 'read'
  upTo: RemoteMessageId
  reader: RemoteSender
}

export interface RemoteTypingEvent extends ChatEventBase {
  type: 'typing'
  sender: RemoteSender
  /** False when the messenger says typing stopped; otherwise it lapses on its own after a few seconds. */
  active: boolean
}

/** A contact's profile as the messenger shows it to this account (cached: PRIVACY I2, R2, R6). */
export interface RemoteContact {
  userId: RemoteUserId
  firstName?: string
  lastName?: string
  username?: string
  phone?: string
  /** Set when the contact has an avatar the client can stream (`ContactAvatars`). */
  avatarRef?: RemoteFileRef
}

export interface RemoteContactEvent extends Acknowledgeable {
  type: 'contact'
  accountId: AccountId
  contact: RemoteContact
  timestamp: Date
}

/**
 * The state of the client's connection (mautrix's bridge state). `connect()` never throws; this is how its
 * outcome, and every later loss, reaches the account actor.
 */
export type ConnectionState =
  | 'connected'
  /** Lost or not yet established for a reason that may pass; the actor retries with backoff. */
  | 'transient-disconnect'
  /** The session is revoked or the credentials are wrong; the actor stops until a new login. */
  | 'bad-credentials'
  /** The messenger asked to wait `floodWaitSeconds` before trying again. */
  | 'flood-wait'

export interface ConnectionStateEvent extends Acknowledgeable {
  type: 'connection'
  accountId: AccountId
  state: ConnectionState
  /** Set with `flood-wait`. */
  floodWaitSeconds?: number
  /** The underlying failure, for logs (already redacted by the logger). */
  error?: unknown
  timestamp: Date
}

export type RemoteChatEvent =
  | RemoteMessageEvent
  | RemoteEditEvent
  | RemoteDeleteEvent
  | RemoteReadReceiptEvent
  | RemoteTypingEvent

export type RemoteEvent = RemoteChatEvent | RemoteContactEvent | ConnectionStateEvent

export type RemoteEventType = RemoteEvent['type']

/** Whether the event belongs to a chat (and so to that chat's ordered queue). */
export function isChatEvent(event: RemoteEvent): event is RemoteChatEvent {
  return event.type !== 'contact' && event.type !== 'connection'
}
