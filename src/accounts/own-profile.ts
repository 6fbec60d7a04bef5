/**
 * @module The account's own profile (PRIVACY I1), refreshed with the contacts (`contact-sync.ts`: when the
 * account goes online and every 6 h): id, display name, username, phone (sealed by the repository, S4) and a
 * small photo in object storage under the account's prefix (`p/<portal>/a/<account>/profile/<id>`, policy
 * I1), so a name or photo changed in the messenger reaches the account row. The row is written only when a
 * field differs; the photo is fetched again only when the messenger's ref changes, and the old object goes.
 * A disconnect clears the fields (`forgetLogin`) and the account's prefix with the photo (R1, D2).
 */
import * as v from 'valibot'
import type { Sql } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import type { Account, AccountProfile } from '../../storage/repos/accounts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { type OwnProfileReading, readsOwnProfile } from '../bridge/capabilities.ts'
import type { MessengerClient } from '../bridge/client.ts'
import type { Logger } from '../log/logger.ts'
import type { Fence } from '../relay/fence.ts'
import { AvatarTooLargeError, avatarObjectId, MAX_AVATAR_BYTES, storeAvatar } from './avatar-files.ts'
import { fencedWrite } from './fenced-write.ts'
import { OwnProfileSchema } from './remote-profile.ts'

export interface OwnProfileDeps {
  sql: Sql
  repos: Pick<Repositories, 'accounts'>
  files: FileStore
  /** The lease check of the write (a process that lost the account must not write its profile). */
  fence?: Fence
  log?: Logger
  maxAvatarBytes?: number
}

export interface OwnProfileAccount {
  id: string
  portalId: string
}

export interface OwnProfileResult {
  /** `unsupported`: the client cannot read its own profile; `unchanged`: the row already showed it. */
  profile: 'unsupported' | 'unchanged' | 'updated'
  /** `kept`: the stored photo is still current, or a new one could not be fetched this time. */
  avatar: 'none' | 'kept' | 'stored' | 'removed' | 'failed'
  /** Account fields the refresh rewrote. */
  changed: (keyof AccountProfile)[]
}

type ValidProfile = v.InferOutput<typeof OwnProfileSchema>

const profilePrefix = (account: OwnProfileAccount) => `p/${account.portalId}/a/${account.id}/profile/`

/** The object key of the account's photo: one per messenger photo ref, under the account's prefix. */
export function ownAvatarKey(account: OwnProfileAccount, remoteId: string, ref: string): string {
  return `${profilePrefix(account)}${avatarObjectId(remoteId, ref)}`
}

/**
 * Reads the profile and brings the account row up to date. Throws what the client throws (and an invalid
 * profile); nothing is written then. The caller decides whether a failure stops anything else.
 */
export async function refreshOwnProfile(
  deps: OwnProfileDeps,
  account: OwnProfileAccount,
  client: MessengerClient,
  signal?: AbortSignal,
): Promise<OwnProfileResult> {
  if (!readsOwnProfile(client)) return { profile: 'unsupported', avatar: 'none', changed: [] }
  const profile = v.parse(OwnProfileSchema, await client.readOwnProfile(signal))
  signal?.throwIfAborted()
  const current = await deps.repos.accounts.get(account.id)
  const avatar = await resolveAvatar(deps, account, client, profile, current, signal)
  const wanted: Required<AccountProfile> = {
    remoteId: profile.userId,
    displayName:
      profile.displayName || [profile.firstName, profile.lastName].filter(Boolean).join(' ') || null,
    username: profile.username || null,
    phone: profile.phone ?? null,
    avatarKey: avatar.key,
  }
  const changes: AccountProfile = {}
  for (const field of Object.keys(wanted) as (keyof AccountProfile)[]) {
    if (wanted[field] !== current[field]) Object.assign(changes, { [field]: wanted[field] })
  }
  const changed = Object.keys(changes) as (keyof AccountProfile)[]
  if (changed.length === 0) return { profile: 'unchanged', avatar: avatar.outcome, changed }
  if (current.remoteId !== null && changes.remoteId !== undefined) {
    deps.log?.warn({ accountId: account.id }, 'own profile: the messenger reports another user id')
  }
  try {
    signal?.throwIfAborted()
    await fencedWrite(deps, (db) => deps.repos.accounts.updateProfile(account.id, changes, db))
  } catch (error) {
    // The new photo is named by no row: it goes.
    if (avatar.outcome === 'stored' && avatar.key) await deps.files.delete(avatar.key).catch(() => false)
    throw error
  }
  let outcome = avatar.outcome
  const old = current.avatarKey
  if (old && old !== avatar.key && (await removeAvatar(deps, account, old)) && outcome === 'none') {
    outcome = 'removed'
  }
  deps.log?.info({ accountId: account.id, changed, avatar: outcome }, 'own profile refreshed')
  return { profile: 'updated', avatar: outcome, changed }
}

async function resolveAvatar(
  deps: OwnProfileDeps,
  account: OwnProfileAccount,
  client: OwnProfileReading,
  profile: ValidProfile,
  current: Account,
  signal: AbortSignal | undefined,
): Promise<{ key: string | null; outcome: OwnProfileResult['avatar'] }> {
  if (!profile.avatarRef) return { key: null, outcome: 'none' }
  const key = ownAvatarKey(account, profile.userId, profile.avatarRef)
  if (current.avatarKey === key) return { key, outcome: 'kept' }
  try {
    const opened = await client.openOwnAvatar(signal)
    if (!opened) return { key: null, outcome: 'none' }
    await storeAvatar(deps.files, key, opened, deps.maxAvatarBytes ?? MAX_AVATAR_BYTES)
    return { key, outcome: 'stored' }
  } catch (error) {
    if (signal?.aborted) throw error
    deps.log?.warn({ accountId: account.id, err: error }, 'own profile photo not stored')
    // Too large: none is kept. Otherwise the photo stored before stays until a later refresh gets the new one.
    if (error instanceof AvatarTooLargeError) return { key: null, outcome: 'failed' }
    return { key: current.avatarKey, outcome: 'failed' }
  }
}

/** Best effort: an old photo left behind goes with the account's prefix when the account is disconnected. */
async function removeAvatar(deps: OwnProfileDeps, account: OwnProfileAccount, key: string) {
  // Only the account's own photo objects: a key outside that prefix is not ours to delete.
  if (!key.startsWith(profilePrefix(account))) return false
  try {
    await deps.files.delete(key)
    return true
  } catch (error) {
    deps.log?.warn({ accountId: account.id, err: error }, 'old own profile photo not deleted')
    return false
  }
}
