/**
 * @module valibot schemas of every JSON body the sandbox accepts (client API and control API).
 */
import * as v from 'valibot'

const str = v.pipe(v.string(), v.minLength(1))
const id = v.pipe(v.number(), v.integer(), v.minValue(1))
const count = v.pipe(v.number(), v.integer(), v.minValue(0))
/** An account by id or by phone. */
const accountRef = v.union([id, str])

// Client API
export const sendCodeBody = v.object({ phone: v.string() })
export const signInBody = v.object({ phone: v.string(), phoneCodeHash: v.string(), code: v.string() })
export const checkPasswordBody = v.object({ phoneCodeHash: v.string(), password: v.string() })
export const sendBody = v.object({
  text: v.optional(v.string()),
  fileId: v.optional(str),
  randomId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  replyTo: v.optional(id),
})
export const editBody = v.object({ text: v.string() })
export const markReadBody = v.object({ maxId: v.optional(count) })
export const typingBody = v.object({ cancel: v.optional(v.boolean()) })

// Control API
export const fileInput = v.object({
  name: str,
  mime: v.optional(str),
  text: v.optional(v.string()),
  base64: v.optional(v.string()),
  size: v.optional(v.pipe(count, v.minValue(1))),
})
export const createAccountBody = v.object({
  phone: str,
  name: v.optional(str),
  username: v.optional(str),
  password: v.optional(str),
  passwordHint: v.optional(v.string()),
})
export const setProfileBody = v.object({
  account: accountRef,
  name: v.optional(str),
  /** null removes it. */
  username: v.optional(v.nullable(str)),
  photo: v.optional(v.nullable(fileInput)),
})
export const createAccountsBody = v.object({
  count: v.pipe(count, v.minValue(1), v.maxValue(100_000)),
  phonePrefix: v.optional(v.pipe(v.string(), v.regex(/^\+?\d{1,8}$/))),
})
export const accountBody = v.object({ account: accountRef })
export const createCustomerBody = v.object({
  name: v.optional(str),
  username: v.optional(str),
  phone: v.optional(str),
})
export const customerSendBody = v.object({
  customer: id,
  account: accountRef,
  text: v.optional(v.string()),
  fileId: v.optional(str),
  file: v.optional(fileInput),
  replyTo: v.optional(id),
})
export const customerEditBody = v.object({
  customer: id,
  account: accountRef,
  messageId: id,
  text: v.string(),
})
export const customerDeleteBody = v.object({
  customer: id,
  account: accountRef,
  messageIds: v.pipe(v.array(id), v.minLength(1)),
})
export const customerReadBody = v.object({ customer: id, account: accountRef, maxId: v.optional(count) })
export const ownerSendBody = v.object({
  account: accountRef,
  customer: id,
  text: v.optional(v.string()),
  fileId: v.optional(str),
  file: v.optional(fileInput),
})
export const ownerEditBody = v.object({ account: accountRef, customer: id, messageId: id, text: v.string() })
export const ownerDeleteBody = v.object({
  account: accountRef,
  customer: id,
  messageIds: v.pipe(v.array(id), v.minLength(1)),
})
export const phoneBody = v.object({ phone: str })
export const floodWaitBody = v.object({
  account: v.optional(accountRef),
  seconds: v.pipe(count, v.minValue(1)),
  calls: v.optional(v.pipe(count, v.minValue(1))),
})
export const dropResponsesBody = v.object({
  account: v.optional(accountRef),
  calls: v.optional(v.pipe(count, v.minValue(1))),
  when: v.optional(v.picklist(['before', 'after'])),
})
export const latencyBody = v.object({ account: v.optional(accountRef), ms: count })
export const revokeBody = v.object({
  session: v.optional(str),
  account: v.optional(accountRef),
  reason: v.optional(v.picklist(['AUTH_KEY_UNREGISTERED', 'SESSION_REVOKED'])),
})
export const rateLimitBody = v.object({
  perSecond: v.optional(v.pipe(v.number(), v.minValue(0.001))),
  burst: v.optional(v.pipe(v.number(), v.minValue(1))),
})
export const emptyBody = v.object({})
