/**
 * @module The people an account talks to (PRIVACY I2) and their avatars: the address book
 * (`contacts.getContacts`) and the partners of its most recent private dialogs (`messages.getDialogs`) —
 * customers who wrote first are rarely in the address book. Names, username and the phone where Telegram
 * shows it (reference §6); bots, deleted accounts and the account itself are left out. Avatars are the small
 * profile photo (§5), streamed on demand; the ref changes with the photo, so the core can tell a new one.
 */
import { Long, User } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
import type { RemoteUserId } from '../../bridge/ids.ts'
import { toRemoteFileRef, toRemoteUserId } from '../../bridge/ids.ts'
import type { FileStream, RemoteContact } from '../../bridge/remote-event.ts'

/** Dialogs looked at per sync: the recent ones are the live conversations. */
const DIALOGS = 100

export function contactOf(user: User): RemoteContact {
  const photo = user.raw._ === 'user' && user.raw.photo?._ === 'userProfilePhoto' ? user.raw.photo : undefined
  return {
    userId: toRemoteUserId(String(user.id)),
    ...(user.firstName ? { firstName: user.firstName } : {}),
    ...(user.lastName ? { lastName: user.lastName } : {}),
    ...(user.username ? { username: user.username } : {}),
    ...(user.phoneNumber ? { phone: `+${user.phoneNumber}` } : {}),
    ...(photo ? { avatarRef: toRemoteFileRef(`avatar:${user.id}:${photo.photoId.toString()}`) } : {}),
  }
}

const isPerson = (user: User) => !user.isBot && !user.isSelf && !user.isDeleted

export async function listContacts(tg: TelegramClient, signal?: AbortSignal): Promise<RemoteContact[]> {
  const byId = new Map<number, User>()
  for (const user of await tg.getContacts()) if (isPerson(user)) byId.set(user.id, user)
  signal?.throwIfAborted()
  const dialogs = await tg.call(
    {
      _: 'messages.getDialogs',
      offsetDate: 0,
      offsetId: 0,
      offsetPeer: { _: 'inputPeerEmpty' },
      limit: DIALOGS,
      hash: Long.ZERO,
    },
    signal ? { abortSignal: signal } : undefined,
  )
  if (dialogs._ !== 'messages.dialogsNotModified') {
    const partners = new Set(
      dialogs.dialogs.flatMap((d) => (d._ === 'dialog' && d.peer._ === 'peerUser' ? [d.peer.userId] : [])),
    )
    for (const raw of dialogs.users) {
      if (raw._ !== 'user' || !partners.has(raw.id)) continue
      const user = new User(raw)
      if (isPerson(user)) byId.set(user.id, user)
    }
  }
  return [...byId.values()].map(contactOf)
}

/** The contact's current small profile photo, or null when there is none (or it is hidden from us). */
export async function openAvatar(
  tg: TelegramClient,
  userId: RemoteUserId,
  signal?: AbortSignal,
): Promise<FileStream | null> {
  const [user] = await tg.getUsers([Number(userId)])
  const small = user?.photo?.small
  if (!small) return null
  return {
    stream: tg.downloadAsStream(small, signal ? { abortSignal: signal } : {}),
    mimeType: 'image/jpeg',
  }
}
