/**
 * @module The bot's own profile (PRIVACY I1) from `GET /me` (reference §3.1): id, name, username and photo —
 * never a phone (§7). The name is the one the login stores; the avatar ref is derived from the small photo's
 * URL, which MAX changes with the photo (`…/i?r=<photo>`), so a new photo gets a new ref.
 */
import { createHash } from 'node:crypto'
import type * as v from 'valibot'
import type { OwnProfile } from '../../bridge/capabilities.ts'
import { toRemoteFileRef } from '../../bridge/ids.ts'
import type { BotInfo } from './schemas.ts'
import { toContact } from './updates.ts'

type Me = v.InferOutput<typeof BotInfo>

/** First and last name, else the deprecated `name` (§3.1). */
export function displayName(user: {
  first_name?: string | null
  last_name?: string | null
  name?: string | null
}) {
  const full = [user.first_name, user.last_name].filter(Boolean).join(' ').trim()
  return full || user.name?.trim() || undefined
}

/** What the account row shows for a bot: its name, else its username, else its id. */
export const botName = (me: Me) => displayName(me) ?? me.username ?? `bot ${me.user_id}`

/** The small photo (`avatar_url`) where MAX gives one; the full-size one only when it is all there is. */
export const smallAvatarUrl = (me: Me) => me.avatar_url || me.full_avatar_url || undefined

export function ownProfileOf(me: Me): OwnProfile {
  const avatar = smallAvatarUrl(me)
  const photo = avatar && createHash('sha256').update(avatar).digest('hex').slice(0, 32)
  return {
    ...toContact(me),
    displayName: botName(me),
    ...(photo ? { avatarRef: toRemoteFileRef(`avatar:${me.user_id}:${photo}`) } : {}),
  }
}
