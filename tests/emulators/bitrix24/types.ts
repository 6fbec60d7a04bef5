/**
 * @module Options and record types of the Bitrix24 portal emulator. Section numbers (§) refer to
 * `/work/shared/reference/bitrix24.md`.
 */

export interface AppOptions {
  clientId: string
  clientSecret: string
  /** Marketplace code shown by `app.info` (§2.6). */
  code?: string
  version?: number
  /** Comma-separated scopes granted to the app (§4.1). */
  scope?: string
}

export interface UserOptions {
  id: number
  name: string
  lastName?: string
  admin: boolean
}

export interface RateLimitOptions {
  /** Y of §4.6: how many requests drain per second (default 2). */
  drainPerSecond?: number
  /** X of §4.6: the bucket size (default 50). */
  burst?: number
  /** Whether a refused request still fills the bucket (undocumented; default false). */
  countRejected?: boolean
}

export interface OperationLimitOptions {
  /** Summed execution seconds per app and method before 429 (§4.6: 480 s in 10 min). */
  limitSeconds?: number
  /** Length of one bucket (§4.6: one minute) — tests shorten it. */
  bucketMs?: number
  /** Number of buckets kept (§4.6: ten). */
  buckets?: number
  /** Simulated execution seconds charged per call (all methods, or per method); default: measured time. */
  costSeconds?: number | Record<string, number>
}

export interface PortalOptions {
  memberId?: string
  port?: number
  languageId?: string
  /** `app.info` LICENSE (§2.6). */
  license?: string
  /** Portal plan letter sent as `status` (§2.2). */
  status?: string
  users?: UserOptions[]
  lines?: { id?: number; name: string }[]
  /** Incoming webhooks `/rest/<userId>/<code>/` (§4.1). */
  webhooks?: { userId: number; code: string }[]
  rateLimit?: RateLimitOptions
}

export interface EmulatorOptions {
  host?: string
  oauthPort?: number
  /** The app under test (client_id/secret default to fixed test values). */
  app?: Partial<AppOptions>
  /** Further apps on the same portals, to exercise per-app event filtering (§6.1). */
  extraApps?: AppOptions[]
  portals?: PortalOptions[]
  accessTokenTtlSeconds?: number
  refreshTokenTtlSeconds?: number
  rateLimit?: RateLimitOptions
  operationLimit?: OperationLimitOptions
  eventTimeoutMs?: number
  eventDelayMs?: number
  eventUserAgent?: string
  fileTimeoutMs?: number
  maxRedirects?: number
  /** §6.4: messages sent with `message.user_id` come back as MESSAGEADD (inferred; default on). */
  echoEmployeeMessages?: boolean
  formFalseAs?: '' | '0'
}

export interface AppRecord {
  clientId: string
  clientSecret: string
  code: string
  version: number
  scope: string
}

export interface UserRecord {
  id: number
  name: string
  lastName: string
  admin: boolean
}

export interface LineRecord {
  id: number
  name: string
  active: boolean
  /** Minutes until a closed session is fully closed (`close_term`, §6.7). */
  fullCloseTime: number
  createdAt: number
}

export interface HandlerRecord {
  id: number
  event: string
  handler: string
  authType: number
  offline: boolean
  clientId: string
}

export interface Installation {
  clientId: string
  applicationToken: string
  installed: boolean
  /** installFinish done (§2.1); events are held back until then. */
  finished: boolean
  version: number
  handlers: HandlerRecord[]
  languageId: string
}

export interface ConnectorFlags {
  DEL_EXTERNAL_MESSAGES: boolean
  EDIT_INTERNAL_MESSAGES: boolean
  DEL_INTERNAL_MESSAGES: boolean
  NEWSLETTER: boolean
  NEED_SYSTEM_MESSAGES: boolean
  NEED_SIGNATURE: boolean
  CHAT_GROUP: boolean
}

export interface ConnectorRecord {
  id: string
  name: string
  icon: unknown
  iconDisabled: unknown
  placementHandler: string
  comment: string | null
  flags: ConnectorFlags
  clientId: string
}

export interface StatusRow {
  connector: string
  line: number
  ACTIVE: boolean
  CONNECTION: boolean
  REGISTER: boolean
  ERROR: boolean
  data: Record<string, string>
}

export interface FileRecord {
  id: number
  purpose: 'message' | 'avatar'
  url: string
  finalUrl: string | null
  name: string | null
  size: number
  sha256: string | null
  mime: string | null
  status: 'downloaded' | 'failed'
  httpStatus: number | null
  redirects: number
  error: string | null
}

export interface ExternalUser {
  key: string
  b24Id: number
  connector: string
  externalId: string
  name: string
  lastName: string
  data: Record<string, unknown>
  hash: string
  updates: number
  picture: FileRecord | null
}

export interface OperatorFile {
  id: number
  name: string
  mime: string
  bytes: Uint8Array
  sign: string
  short: string
  width: number | null
  height: number | null
}

export interface ImMessage {
  id: number
  chatId: number
  author: 'client' | 'operator' | 'employee' | 'system'
  authorId: number
  text: string
  files: unknown[]
  /** External ids (§5.8 incoming from `message.id`; §5.11 outgoing from the delivery status). */
  connectorMid: string[] | null
  date: number
  sending: boolean
  read: boolean
  edited: boolean
  deleted: boolean
  vote: 'like' | 'dislike' | null
  system: boolean
}

export interface SessionRecord {
  id: number
  chatId: number
  closed: boolean
  parentId: number
  startedAt: number
  closedAt: number | null
}

export interface OlChat {
  id: number
  userCode: string
  connector: string
  line: number
  externalChatId: string
  /** Internal id of the external user, 0 in CHAT_GROUP mode (§5.8). */
  userPart: number
  title: string
  description: string | null
  session: SessionRecord | null
  sessions: SessionRecord[]
  waitingVote: boolean
  messages: ImMessage[]
}
