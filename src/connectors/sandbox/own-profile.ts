/**
 * @module The account's own profile at the sandbox (PRIVACY I1): `GET /v1/me` (its README) — id, name,
 * username, phone, and the profile photo's file id, which is new for every new photo (so it is the ref).
 */
import * as v from 'valibot'
import type { OwnProfile } from '../../bridge/capabilities.ts'
import { toRemoteFileRef, toRemoteUserId } from '../../bridge/ids.ts'

export const SandboxMe = v.object({
  id: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  name: v.string(),
  phone: v.optional(v.string()),
  username: v.optional(v.string()),
  photo: v.optional(v.object({ fileId: v.pipe(v.string(), v.minLength(1)) })),
})
export type SandboxMe = v.InferOutput<typeof SandboxMe>

export function ownProfileOf(me: SandboxMe): OwnProfile {
  return {
    userId: toRemoteUserId(String(me.id)),
    displayName: me.name,
    firstName: me.name,
    ...(me.username === undefined ? {} : { username: me.username }),
    ...(me.phone === undefined ? {} : { phone: me.phone }),
    ...(me.photo ? { avatarRef: toRemoteFileRef(me.photo.fileId) } : {}),
  }
}
