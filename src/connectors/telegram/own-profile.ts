/**
 * @module The account's own profile (PRIVACY I1): the self user (`users.getUsers([inputUserSelf])`, what
 * mtcute's `getMe` asks) with the same fields and avatar ref as a contact (`contacts.ts`) — Telegram always
 * shows the account its own phone — and its small profile photo (160 px, reference §5), streamed on demand.
 */
import { User } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
import type { OwnProfile } from '../../bridge/capabilities.ts'
import type { FileStream } from '../../bridge/remote-event.ts'
import { contactOf } from './contacts.ts'

async function self(tg: TelegramClient, signal?: AbortSignal): Promise<User> {
  const [raw] = await tg.call(
    { _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] },
    signal ? { abortSignal: signal } : undefined,
  )
  if (raw?._ !== 'user') throw new Error('telegram: users.getUsers answered no self user')
  return new User(raw)
}

export async function readOwnProfile(tg: TelegramClient, signal?: AbortSignal): Promise<OwnProfile> {
  const me = await self(tg, signal)
  return { ...contactOf(me), displayName: me.displayName }
}

export async function openOwnAvatar(tg: TelegramClient, signal?: AbortSignal): Promise<FileStream | null> {
  const small = (await self(tg, signal)).photo?.small
  if (!small) return null
  return {
    stream: tg.downloadAsStream(small, signal ? { abortSignal: signal } : {}),
    mimeType: 'image/jpeg',
  }
}
