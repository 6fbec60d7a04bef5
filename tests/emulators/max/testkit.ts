/**
 * @module The in-process surface of the MAX Bot API emulator, for suites that start it inside the test process
 * (`startMaxEmulator()`), and the shape its HTTP control API (`/_emulator/…`) mirrors for other processes.
 * Everything here acts as MAX itself or as a MAX customer would; nothing is shaped after Olchat.
 */
export { startMaxEmulator } from './index.ts'

/** A file a customer sends; `type` defaults from the MIME type (image/*, video/*, audio/*, else `file`). */
export interface CustomerFile {
  name: string
  mime: string
  bytes: Uint8Array
  type?: 'image' | 'video' | 'audio' | 'file'
}

export interface UserSendInput {
  text?: string
  file?: CustomerFile
  /** A raw attachment object placed into `message.body.attachments` as given (any type, even unknown ones). */
  attachment?: unknown
  /** Shortcuts for the documented attachment shapes (reference §4.5, §7). */
  sticker?: { code?: string; width?: number; height?: number }
  contact?: { name: string; phone: string; ownAccount?: boolean }
  location?: { latitude: number; longitude: number }
  share?: { url: string; title?: string; description?: string }
  /** Reply to (or forward) a message of the dialog by its mid (reference §4.4 `link`). */
  link?: { type: 'reply' | 'forward'; mid: string }
}

export interface BotMessageAttachment {
  type: string
  name?: string
  mime?: string
  bytes?: Uint8Array
  /** The upload token the bot attached (file/image/video/audio), if any. */
  token?: string
  /** The attachment exactly as the bot sent it. */
  raw: unknown
}

export interface BotMessage {
  mid: string
  chatId: number
  text: string
  format?: string
  attachments: BotMessageAttachment[]
  link?: { type: string; mid: string }
  notify: boolean
  edited: boolean
  deleted: boolean
  /** Unix ms of the send and of the last edit. */
  sentAt: number
  editedAt?: number
}

export interface MaxEmulatorFaults {
  /** The next `requests` authenticated Bot API calls (any token) answer 429 without doing anything. */
  rateLimit(requests: number): void
  /** The next `sends` message sends that carry an uploaded attachment answer 400 `attachment.not.ready`. */
  attachmentNotReady(sends: number): void
  /**
   * The next mutating Bot API call (POST/PUT/PATCH/DELETE; each call queues one more) answers 200
   * `{"success":false,"message":code}` without doing anything (reference §2.5 SimpleQueryResult).
   */
  failNext(code?: string): void
  /** The token answers 401 `verify.token` from now on (reference §1 "Token revocation"). */
  revokeToken(token: string): void
  /** The next `requests` Bot API calls answer `status` (default 500) without doing anything. */
  serverError(requests: number, status?: number): void
  /** The next `deliveries` webhook deliveries are sent twice (reference §4.2 "the same event can arrive twice"). */
  duplicateDeliveries(deliveries: number): void
  /** Drops every pending fault (revoked tokens stay revoked). */
  clear(): void
}

export interface MaxEmulator {
  /** API base URL (Olchat's MAX API base URL points here). */
  url: string
  /** Base of the HTTP control API (`<url>/_emulator`). */
  controlUrl: string
  close(): Promise<void>
  createBot(input?: { name?: string; username?: string }): { token: string; botUserId: number; name: string }
  /** The owner edits the bot in its settings: a new name, username, photo (a new avatar URL) or none. */
  ownerEditsBot(
    token: string,
    input: { name?: string; username?: string; photo?: 'new' | 'none' },
  ): { botUserId: number; name: string; username: string | null }
  createUser(input?: { name?: string; lastName?: string; username?: string }): {
    userId: number
    name: string
  }
  // customer actions (return the new message's mid and the dialog chat id)
  userSends(token: string, userId: number, input: UserSendInput): Promise<{ mid: string; chatId: number }>
  userEdits(token: string, userId: number, mid: string, text: string): Promise<void>
  userDeletes(token: string, userId: number, mid: string): Promise<void>
  userStartsBot(token: string, userId: number, payload?: string): Promise<{ chatId: number }>
  userStopsBot(token: string, userId: number): Promise<void>
  userRemovesDialog(token: string, userId: number): Promise<void>
  /** The user presses a `callback` button of a bot message (→ `message_callback`); returns its `callback_id`. */
  userPressesButton(
    token: string,
    userId: number,
    mid: string,
    payload: string,
  ): Promise<{ callbackId: string }>
  /** Queues an arbitrary update (any `update_type`, known or not) for the bot as given; `timestamp` is added if absent. */
  injectUpdate(token: string, update: Record<string, unknown>): void
  botMessages(token: string, chatId: number): BotMessage[]
  /** The dialog chat id of a bot and a user, if the user ever wrote to or started the bot. */
  dialogId(token: string, userId: number): number | undefined
  faults: MaxEmulatorFaults
  stats(): Record<string, number>
  resetStats(): void
}

export interface MaxEmulatorOptions {
  host?: string
  port?: number
  /** Bot API budget per token, requests per second (reference §2.4: 30); null turns it off. */
  rateLimitPerSecond?: number | null
  /** `GET /updates` budget per token (reference §2.4, the May 2026 notice: 2 rps); null turns it off. */
  pollRateLimitPerSecond?: number | null
  /** Webhook retry plan (reference §4.2: 60 s first, ×2.5, 10 retries, unsubscribe after 8 h without a 200). */
  webhook?: Partial<WebhookPolicy>
  /** What `GET /updates` without `marker` returns (reference §4.1 disagreement): default 'uncommitted'. */
  noMarker?: 'uncommitted' | 'latest'
  /** Refuse webhook URLs that are not https on 443 (reference §4.2); off by default so local sinks work. */
  requireHttpsWebhooks?: boolean
  /** Sends of a freshly uploaded token that answer `attachment.not.ready` before it is "processed" (§5.4); default 1. */
  notReadyAttempts?: number
  /** How long a bot may edit its dialog messages (reference §5.2: 7 days). */
  editWindowMs?: number
  /** How long a long-polling update waits to be fetched (reference §2.4: 24 h). */
  updateTtlMs?: number
}

export interface WebhookPolicy {
  firstRetryMs: number
  retryFactor: number
  maxRetries: number
  unsubscribeAfterMs: number
  /** An endpoint must answer within this (reference §4.2: 30 s). */
  timeoutMs: number
}
