/** @module The emulator's records: MAX users, bots, dialogs, messages, files and queued updates. */

/** A MAX account (customer or bot): the `User` object of reference §4.4 / §7. */
export interface Person {
  userId: number
  firstName: string
  lastName: string | null
  username: string | null
  isBot: boolean
  lastActivityTime: number
  description: string | null
  /** The current profile photo (it shows in the avatar URLs, as MAX's `?r=`), null without one. */
  photoId: number | null
}

export interface Subscription {
  url: string
  time: number
  updateTypes: string[] | null
  secret: string | null
  /** When the first failed delivery since the last 200 happened (reference §4.2: 8 h without a 200 → unsubscribed). */
  failingSince: number | null
  /** Fires `unsubscribeAfterMs` after `failingSince` unless a 200 arrives first. */
  unsubscribeTimer: ReturnType<typeof setTimeout> | null
  /** Keeps first attempts in update order; retries run beside it. */
  chain: Promise<void>
  timers: Set<ReturnType<typeof setTimeout>>
}

export interface QueuedUpdate {
  position: number
  type: string
  queuedAt: number
  update: Record<string, unknown>
}

export interface Bot {
  person: Person
  token: string
  revoked: boolean
  commands: { name: string; description?: string | null }[]
  /** Long-polling queue (reference §4.1): positions ascending; everything below `committed` is gone. */
  queue: QueuedUpdate[]
  nextPosition: number
  committed: number
  pollWaiters: Set<() => void>
  subscriptions: Subscription[]
  dialogsByUser: Map<number, Dialog>
}

/** A bot–customer dialog (`chat_type: "dialog"`, positive id, reference §2.6). */
export interface Dialog {
  chatId: number
  bot: Bot
  user: Person
  /** `suspended` after the user stopped the bot (reference §3.3). */
  status: 'active' | 'suspended'
  lastEventTime: number
  messages: StoredMessage[]
  actions: string[]
}

export interface StoredFile {
  id: string
  name: string
  mime: string
  bytes: Uint8Array
  url: string
}

/** One attachment of a stored message: the `Attachment` JSON MAX shows, plus what the emulator knows behind it. */
export interface StoredAttachment {
  type: string
  /** As MAX shows it in `message.body.attachments` (reference §4.5). */
  shown: Record<string, unknown>
  /** As the bot sent it (`AttachmentRequest`, reference §5.1); undefined for customer attachments. */
  request?: unknown
  token?: string
  file?: StoredFile
}

export interface StoredMessage {
  mid: string
  seq: bigint
  dialog: Dialog
  fromBot: boolean
  sentAt: number
  text: string | null
  format: 'markdown' | 'html' | null
  attachments: StoredAttachment[]
  link: { type: 'reply' | 'forward'; mid: string } | null
  notify: boolean
  edited: boolean
  editedAt: number | null
  deleted: boolean
}

/** A `POST /uploads` slot (reference §5.3): one URL, exactly one file. */
export interface Upload {
  id: string
  type: 'image' | 'video' | 'audio' | 'file'
  bot: Bot
  /** video/audio: handed out with the URL; image/file: minted when the bytes arrive. */
  token: string | null
  file: StoredFile | null
  /** Resumable upload in progress: chunks by start offset. */
  chunks: Map<number, Uint8Array>
  total: number | null
}

/** What an upload token stands for once the bytes are in. */
export interface UploadedMedia {
  token: string
  type: Upload['type']
  file: StoredFile
  photoId: number | null
  /** Sends that still answer `attachment.not.ready` (reference §5.4). */
  notReadyLeft: number
}
