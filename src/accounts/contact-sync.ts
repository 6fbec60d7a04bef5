/**
 * @module Contact sync (PRIVACY I2, R2, R6): the account's contacts as the messenger lists them
 * (`MessengerClient.syncContacts`) replace the cached profiles — names, username, phone (sealed by the
 * repository) — and, where the client streams avatars (`ContactAvatars`), a small avatar per contact is kept
 * in object storage under the account's prefix (`p/<portal>/a/<account>/avatars/<id>`, policy I2), fetched
 * again only when the messenger's avatar ref changes. Contacts the refresh did not list are marked stale;
 * the retention sweep deletes them (and their avatars) 7 days later unless a refresh or a message brings
 * them back. The account runtime runs it when the account goes online and every `intervalMs` after; each run
 * first refreshes the account's own profile (I1, `own-profile.ts`) where the client can read it.
 */
import * as v from 'valibot'
import type { Sql } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import type { Contact } from '../../storage/repos/contacts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { hasContactAvatars } from '../bridge/capabilities.ts'
import type { MessengerClient } from '../bridge/client.ts'
import { FloodWaitError, NeedsLoginError } from '../bridge/errors.ts'
import type { RemoteUserId } from '../bridge/ids.ts'
import type { Logger } from '../log/logger.ts'
import type { Fence } from '../relay/fence.ts'
import { AvatarTooLargeError, avatarObjectId, MAX_AVATAR_BYTES, storeAvatar } from './avatar-files.ts'
import { fencedWrite } from './fenced-write.ts'
import { refreshOwnProfile } from './own-profile.ts'
import { RemoteContactSchema } from './remote-profile.ts'

/** A full refresh this often while the account is online. */
export const CONTACT_SYNC_INTERVAL_MS = 6 * 3600_000
/** After a failed refresh (network, flood wait), the next try. */
export const CONTACT_SYNC_RETRY_MS = 10 * 60_000

export interface ContactSyncOptions {
  intervalMs: number
  retryMs: number
  maxAvatarBytes: number
}

export const DEFAULT_CONTACT_SYNC: ContactSyncOptions = {
  intervalMs: CONTACT_SYNC_INTERVAL_MS,
  retryMs: CONTACT_SYNC_RETRY_MS,
  maxAvatarBytes: MAX_AVATAR_BYTES,
}

export interface ContactSyncDeps {
  sql: Sql
  repos: Pick<Repositories, 'contacts' | 'accounts'>
  files: FileStore
  /** The lease check of every write (a process that lost the account must not write its contacts). */
  fence?: Fence
  log?: Logger
  maxAvatarBytes?: number
}

export interface ContactSyncAccount {
  id: string
  portalId: string
}

export interface ContactSyncResult {
  /** Contacts listed by the messenger and stored. */
  contacts: number
  /** Listed entries that failed validation (left out, counted). */
  invalid: number
  /** Cached contacts marked stale by this refresh. */
  stale: number
  avatarsStored: number
  avatarsRemoved: number
  /** Avatars that could not be fetched this time (the cached one, if any, stays). */
  avatarsFailed: number
}

type ValidContact = v.InferOutput<typeof RemoteContactSchema>

/** The object key of a contact's avatar: one per (contact, messenger avatar ref), under the account prefix. */
export function contactAvatarKey(portalId: string, accountId: string, remoteId: string, ref: string): string {
  return `p/${portalId}/a/${accountId}/avatars/${avatarObjectId(remoteId, ref)}`
}

/** One full refresh of the account's contacts. Throws what `syncContacts` throws; nothing is marked then. */
export async function syncAccountContacts(
  deps: ContactSyncDeps,
  account: ContactSyncAccount,
  client: MessengerClient,
  signal?: AbortSignal,
): Promise<ContactSyncResult> {
  await refreshProfile(deps, account, client, signal)
  const listed = await client.syncContacts(signal)
  const result: ContactSyncResult = {
    contacts: 0,
    invalid: 0,
    stale: 0,
    avatarsStored: 0,
    avatarsRemoved: 0,
    avatarsFailed: 0,
  }
  const cached = new Map((await deps.repos.contacts.list(account.id)).map((c) => [c.remoteId, c]))
  const seen: string[] = []
  // Flood waits and a lost login stop the avatar downloads of this round; profiles are still refreshed.
  let avatarsUsable = hasContactAvatars(client)
  for (const entry of listed) {
    signal?.throwIfAborted()
    const parsed = v.safeParse(RemoteContactSchema, entry)
    if (!parsed.success) {
      result.invalid++
      continue
    }
    const contact = parsed.output
    const existing = cached.get(contact.userId)
    const avatar = await resolveAvatar(deps, account, client, contact, existing, avatarsUsable, signal)
    if (avatar.outcome === 'stored') result.avatarsStored++
    if (avatar.outcome === 'failed' || avatar.outcome === 'paused') result.avatarsFailed++
    if (avatar.outcome === 'paused') avatarsUsable = false
    signal?.throwIfAborted()
    await storeContact(deps, account, contact, avatar)
    seen.push(contact.userId)
    result.contacts++
    const old = existing?.avatarKey
    if (old && old !== avatar.key && (await removeAvatar(deps, account, old))) result.avatarsRemoved++
  }
  signal?.throwIfAborted()
  result.stale = await fencedWrite(deps, (tx) => deps.repos.contacts.markStale(account.id, seen, tx))
  deps.log?.info({ accountId: account.id, ...result }, 'contacts synced')
  return result
}

/** I1 on the same schedule; a failure is logged and the contacts go on (only a cancellation stops them). */
async function refreshProfile(
  deps: ContactSyncDeps,
  account: ContactSyncAccount,
  client: MessengerClient,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await refreshOwnProfile(deps, account, client, signal)
  } catch (error) {
    if (signal?.aborted) throw error
    deps.log?.warn({ accountId: account.id, err: error }, 'own profile not refreshed; contacts go on')
  }
}

type AvatarOutcome = 'unchanged' | 'stored' | 'none' | 'failed' | 'paused'

/** The refreshed profile replaces the cached one; an avatar stored for a row that was not written goes. */
async function storeContact(
  deps: ContactSyncDeps,
  account: ContactSyncAccount,
  contact: ValidContact,
  avatar: { key: string | null; outcome: AvatarOutcome },
) {
  const input = {
    remoteId: contact.userId,
    firstName: contact.firstName || null,
    lastName: contact.lastName || null,
    username: contact.username || null,
    phone: contact.phone ?? null,
    avatarKey: avatar.key,
  }
  try {
    await fencedWrite(deps, (tx) => deps.repos.contacts.upsert(account.id, input, tx))
  } catch (error) {
    if (avatar.outcome === 'stored' && avatar.key) await deps.files.delete(avatar.key).catch(() => false)
    throw error
  }
}

async function resolveAvatar(
  deps: ContactSyncDeps,
  account: ContactSyncAccount,
  client: MessengerClient,
  contact: ValidContact,
  existing: Contact | undefined,
  usable: boolean,
  signal: AbortSignal | undefined,
): Promise<{ key: string | null; outcome: AvatarOutcome }> {
  if (!contact.avatarRef || !hasContactAvatars(client)) return { key: null, outcome: 'none' }
  const key = contactAvatarKey(account.portalId, account.id, contact.userId, contact.avatarRef)
  if (existing?.avatarKey === key) return { key, outcome: 'unchanged' }
  const kept = existing?.avatarKey ?? null
  if (!usable) return { key: kept, outcome: 'failed' }
  try {
    const opened = await client.openAvatar(contact.userId as RemoteUserId, signal)
    if (!opened) return { key: null, outcome: 'none' }
    // A half-written object does not stay behind unnamed by any row: storeAvatar deletes it.
    await storeAvatar(deps.files, key, opened, deps.maxAvatarBytes ?? MAX_AVATAR_BYTES)
    return { key, outcome: 'stored' }
  } catch (error) {
    if (signal?.aborted) throw error
    const stop = error instanceof FloodWaitError || error instanceof NeedsLoginError
    deps.log?.warn({ accountId: account.id, err: error }, 'contact avatar not stored')
    if (error instanceof AvatarTooLargeError) return { key: null, outcome: 'failed' }
    return { key: kept, outcome: stop ? 'paused' : 'failed' }
  }
}

/** Best effort: an old avatar left behind goes with the account's prefix when the account is disconnected. */
async function removeAvatar(deps: ContactSyncDeps, account: ContactSyncAccount, key: string) {
  // Only the account's own objects: a key outside its prefix is not ours to delete.
  if (!key.startsWith(`p/${account.portalId}/a/${account.id}/avatars/`)) return false
  try {
    await deps.files.delete(key)
    return true
  } catch (error) {
    deps.log?.warn({ accountId: account.id, err: error }, 'old contact avatar not deleted')
    return false
  }
}

/**
 * When a refresh runs: at once when the account comes online (unless one succeeded within the interval),
 * then every `intervalMs` while it stays online; `retryMs` after a failure. Paused while the account is not
 * online (its calls would only fail); one refresh at a time.
 */
export class ContactSyncSchedule {
  readonly #run: (signal: AbortSignal) => Promise<unknown>
  readonly #options: Pick<ContactSyncOptions, 'intervalMs' | 'retryMs'>
  readonly #now: () => number
  readonly #log: Logger | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #running: Promise<void> | undefined
  #controller: AbortController | undefined
  #lastSuccess: number | undefined
  #failed = false
  #online = false
  #stopped = false

  constructor(
    run: (signal: AbortSignal) => Promise<unknown>,
    {
      options = {},
      now = Date.now,
      log,
    }: { options?: Partial<ContactSyncOptions>; now?: () => number; log?: Logger } = {},
  ) {
    this.#run = run
    this.#options = { ...DEFAULT_CONTACT_SYNC, ...options }
    this.#now = now
    this.#log = log
  }

  /** Resolves when no refresh is running (tests, hand-over). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running
  }

  online(): void {
    if (this.#stopped) return
    this.#online = true
    if (this.#running) return
    const last = this.#lastSuccess
    const wait = this.#failed || last === undefined ? 0 : last + this.#options.intervalMs - this.#now()
    this.#arm(Math.max(0, wait))
  }

  /** Not online any more: no timer until the next `online()` (a refresh in progress finishes or fails). */
  pause(): void {
    this.#online = false
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** For good: cancels the refresh in progress and waits for it (nothing is written after this resolves). */
  async stop(): Promise<void> {
    this.#stopped = true
    this.pause()
    this.#controller?.abort()
    await this.idle()
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#start()
    }, ms)
    this.#timer.unref?.()
  }

  #start(): void {
    if (this.#stopped || !this.#online || this.#running) return
    const controller = new AbortController()
    this.#controller = controller
    this.#running = this.#run(controller.signal)
      .then(
        () => {
          this.#lastSuccess = this.#now()
          this.#failed = false
        },
        (error: unknown) => {
          this.#failed = true
          if (!controller.signal.aborted)
            this.#log?.warn({ err: error }, 'contact sync failed; retried later')
        },
      )
      .finally(() => {
        this.#running = undefined
        this.#controller = undefined
        if (this.#stopped || !this.#online) return
        this.#arm(this.#failed ? this.#options.retryMs : this.#options.intervalMs)
      })
  }
}
