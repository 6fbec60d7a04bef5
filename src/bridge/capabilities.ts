/**
 * @module Optional features of a client, each a small interface of its own (mautrix's
 * `EditHandlingNetworkAPI` and friends). The base `MessengerClient` stays small; the core asks with a type
 * guard whether a client has a feature and otherwise leaves it out. A connector states which ones it
 * implements where it declares its class: `const _check: FileDownloading = new SandboxClient(...)`.
 */
import type { MessengerClient } from './client.ts'
import type { RemoteChatId, RemoteFileRef, RemoteUserId } from './ids.ts'
import type { FileStream, RemoteContact } from './remote-event.ts'

/** Opens a file of an earlier event again by its ref (after a restart the event's handle is gone). */
export interface FileDownloading {
  /** @throws PermanentSendError when the file is gone at the messenger; other errors are transient. */
  openFile(ref: RemoteFileRef, signal?: AbortSignal): Promise<FileStream>
}

/** Shows "typing…" to the contact while an operator writes. */
export interface TypingNotifying {
  /** Best effort: failures are swallowed by the implementation, never thrown. */
  setTyping(chatId: RemoteChatId, active: boolean): Promise<void>
}

/** The client emits `read` events when the contact reads the account's messages. */
export interface ReadReceiptReporting {
  readonly reportsReadReceipts: true
}

/** Streams a contact's avatar (cached as `avatar_key`, cleared on disconnect: R2). */
export interface ContactAvatars {
  /** @returns the current avatar, or null when the contact has none (or hides it). */
  openAvatar(userId: RemoteUserId, signal?: AbortSignal): Promise<FileStream | null>
}

/**
 * The logged-in account as the messenger shows it now (PRIVACY I1): the same fields as a contact, plus the
 * name the messenger displays. `phone` only where the messenger shows it to the account (Telegram, the
 * sandbox; never for a MAX bot); `avatarRef` changes with the photo, so the core fetches a new one only then.
 */
export interface OwnProfile extends RemoteContact {
  /** The full name as the messenger shows it (a MAX bot's name); default: first and last name. */
  displayName?: string
}

/** Reads the account's own profile again, so a name or photo changed in the messenger reaches the row (I1). */
export interface OwnProfileReading {
  readOwnProfile(signal?: AbortSignal): Promise<OwnProfile>
  /** @returns the account's current small profile photo, or null when it has none. */
  openOwnAvatar(signal?: AbortSignal): Promise<FileStream | null>
}

/**
 * The client keeps a resumable update position at the messenger (the sandbox's `seq`, Telegram's pts). By
 * default it moves the position as it hands events on; after `holdPositionUntilAck()` it moves it past an
 * event only once that event and every one before it were acked (`event.ack()`), so events held in the
 * core's memory at a crash come again after the restart.
 */
export interface PositionHolding {
  holdPositionUntilAck(): void
}

function has(client: MessengerClient, method: string): boolean {
  return typeof (client as unknown as Record<string, unknown>)[method] === 'function'
}

export function canDownloadFiles(client: MessengerClient): client is MessengerClient & FileDownloading {
  return has(client, 'openFile')
}

export function canNotifyTyping(client: MessengerClient): client is MessengerClient & TypingNotifying {
  return has(client, 'setTyping')
}

export function reportsReadReceipts(
  client: MessengerClient,
): client is MessengerClient & ReadReceiptReporting {
  return (client as Partial<ReadReceiptReporting>).reportsReadReceipts === true
}

export function hasContactAvatars(client: MessengerClient): client is MessengerClient & ContactAvatars {
  return has(client, 'openAvatar')
}

export function readsOwnProfile(client: MessengerClient): client is MessengerClient & OwnProfileReading {
  return has(client, 'readOwnProfile') && has(client, 'openOwnAvatar')
}

export function holdsPosition(client: MessengerClient): client is MessengerClient & PositionHolding {
  return has(client, 'holdPositionUntilAck')
}
