/**
 * @module The sandbox messenger's entities. Everything lives in memory; per-account collections are created
 * lazily so an idle account (the relay benchmark creates 10,000) costs a few hundred bytes.
 */
import type { ServerWebSocket } from 'bun'

export interface SandboxOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string
  /** Default 0: a free port. */
  port?: number
  /** Where uploaded files go; default a fresh temp directory, removed on stop. */
  dir?: string
  /** A fixed login code (demos); default a random 5-digit code per send-code. */
  loginCode?: string
  /** How long a sent code (and a pending 2FA step) stays valid; default 5 minutes. */
  codeTtlMs?: number
  /** Updates kept per account for catch-up; older ones answer DIFFERENCE_TOO_LONG. Default 100,000. */
  maxUpdatesPerAccount?: number
  /** A live connection silent this long (pings unanswered) is closed: how a frozen (SIGSTOP) client is
   * noticed, within this + up to 4 s. Default 10. */
  idleTimeoutSeconds?: number
  /** Largest upload; default 512 MiB. */
  maxFileBytes?: number
  /** Per-account send budget (sends, edits, deletes) answering FLOOD_WAIT_n when spent; default off. */
  rateLimit?: RateLimit | null
}

export interface RateLimit {
  perSecond: number
  burst: number
}

export interface FileMeta {
  id: string
  name: string
  mime: string
  size: number
  sha256: string
  path: string
  /** Accounts that may download it through the client API: the uploader, and those it was sent to. */
  readers: Set<number>
}

export interface Customer {
  id: number
  name: string
  username?: string
  phone?: string
}

export interface Message {
  id: number
  chatId: number
  /** true: sent by the account (received by the sandbox); false: sent by the customer. */
  out: boolean
  date: number
  text: string
  file?: FileMeta
  randomId?: string
  replyTo?: number
  editDate?: number
  /** Earlier texts, oldest first, when edited. */
  history?: string[]
  deleted?: 'account' | 'customer'
  /** Typed by the account's owner on another device (`owner-send`), not sent through the client API. */
  fromDevice?: true
}

export interface Chat {
  customer: Customer
  messages: Message[]
  /** The account has read the customer's messages up to this id. */
  readInboxMaxId: number
  /** The customer has read the account's messages up to this id. */
  readOutboxMaxId: number
  typingUntil: number
  /** Messages the sandbox received from the account in this chat (dedup hits excluded). */
  received: number
  randomIdHits: number
}

export interface AccountCounters {
  received: number
  randomIdHits: number
  authKeyDuplicated: number
  updatesDelivered: number
  floodWaits: number
}

export interface Account {
  id: number
  phone: string
  name: string
  username?: string
  /** The file id of the profile photo (`set-profile`); a new photo is a new file. */
  photo?: string
  password?: string
  passwordHint?: string
  /** Last update sequence number handed out (0: none yet). */
  seq: number
  lastMessageId: number
  log?: UpdateLog
  chats?: Map<number, Chat>
  messages?: Map<number, Message>
  randomIds?: Map<string, Message>
  sessions?: Set<Session>
  counters?: AccountCounters
}

/** Serialized updates (each sent as-is over every connection), oldest first; `first` is entries[0]'s seq. */
export interface UpdateLog {
  first: number
  entries: string[]
}

export type RevokeReason = 'AUTH_KEY_UNREGISTERED' | 'SESSION_REVOKED' | 'AUTH_KEY_DUPLICATED'

export interface Session {
  token: string
  account: Account
  createdAt: number
  revoked?: RevokeReason
  /** The one live updates connection this session may have. */
  live?: ServerWebSocket<ConnData>
}

export interface ConnData {
  session: Session | null
  /** Last seq sent on this connection (starts at the client's `after`). */
  sent: number
  /** Whether the `ready` frame (caught up) has been sent. */
  ready: boolean
  /** Set when the upgrade was refused: the socket is closed with this at open. */
  refuse?: { code: number; reason: string }
}
