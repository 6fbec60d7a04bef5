/**
 * @module What a messenger says about a person — a contact (I2) or the account itself (I1) — checked and
 * clipped before it is stored: the contact sync and the own-profile refresh read the same shape.
 */
import * as v from 'valibot'

const clipped = (max: number) =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => s.trim().slice(0, max)),
    ),
  )

export const RemoteContactSchema = v.object({
  userId: v.pipe(v.string(), v.minLength(1), v.maxLength(255)),
  firstName: clipped(255),
  lastName: clipped(255),
  username: clipped(64),
  phone: v.optional(v.pipe(v.string(), v.regex(/^\+?[0-9 ()-]{3,32}$/))),
  avatarRef: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(1024))),
})

/** The account's own profile: a contact's fields and the display name the messenger shows. */
export const OwnProfileSchema = v.object({ ...RemoteContactSchema.entries, displayName: clipped(255) })
