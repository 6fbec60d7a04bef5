/**
 * @module Bodies of `to_portal` deliveries, one schema per kind (reference/bitrix24.md §5.8–5.12). They are
 * written by the relay core and read back here; a body that fails its schema is dead-lettered with the
 * reason and never sent (a malformed item would make the portal reject the whole call with ERROR_ARGUMENT).
 * Field names are ours (camelCase); `portal-items.ts` maps them to the portal's lowercase keys.
 */
import * as v from 'valibot'
import type { DeliveryKind } from '../../../storage/repos/deliveries.ts'

/** An id as the portal takes it: ours are strings; Bitrix24's own ids may come as numbers. */
const Id = v.pipe(
  v.union([v.pipe(v.string(), v.nonEmpty(), v.maxLength(255)), v.pipe(v.number(), v.safeInteger())]),
  v.transform(String),
)
const Text = v.pipe(v.string(), v.maxLength(100_000))
const UnixSeconds = v.pipe(v.number(), v.safeInteger(), v.minValue(0))

export const ChatRefSchema = v.object({
  /** The messenger chat id; comes back as `chat.id` in every operator event. */
  id: Id,
  name: v.optional(v.pipe(v.string(), v.maxLength(255))),
  /** Shown by the portal as "Link to the original post". */
  url: v.optional(v.pipe(v.string(), v.url())),
})

export const UserRefSchema = v.object({
  /** The messenger user id. */
  id: Id,
  name: v.optional(v.pipe(v.string(), v.maxLength(255))),
  lastName: v.optional(v.pipe(v.string(), v.maxLength(255))),
  /**
   * Object key of the avatar. Set it only when the avatar is new or changed: the portal re-processes the
   * user whenever the user block changes, and every send mints a fresh URL, so a key on every message
   * would make the portal download the picture every time.
   */
  pictureKey: v.optional(v.pipe(v.string(), v.nonEmpty())),
})

export const FileRefSchema = v.object({
  /** Object key in the file store; the signed URL is minted at send time, never stored. */
  objectKey: v.pipe(v.string(), v.nonEmpty()),
  name: v.pipe(v.string(), v.nonEmpty(), v.maxLength(255)),
  mime: v.optional(v.pipe(v.string(), v.nonEmpty())),
})

export const MessagePayloadSchema = v.object({
  chat: ChatRefSchema,
  user: UserRefSchema,
  message: v.pipe(
    v.object({
      /** Messenger message id: `messages.origin_id` of the inbound row, and the portal's CONNECTOR_MID. */
      id: Id,
      date: UnixSeconds,
      text: v.optional(Text),
      files: v.optional(v.array(FileRefSchema)),
      /**
       * A Bitrix24 employee's id: the account owner's own message, shown as that employee's (§5.8
       * `message.user_id`); the `user` block stays the customer's, whose chat it is.
       */
      userId: v.optional(v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,17}$/, 'a Bitrix24 user id'))),
    }),
    // §5.8: either text or files is required, otherwise the item fails on the portal.
    v.check(
      (message) => (message.text ?? '').trim() !== '' || (message.files ?? []).length > 0,
      'a message needs text or files',
    ),
  ),
})

export const EditPayloadSchema = v.object({
  chat: ChatRefSchema,
  user: UserRefSchema,
  message: v.object({ id: Id, text: Text }),
})

export const DeletePayloadSchema = v.object({
  chat: ChatRefSchema,
  user: UserRefSchema,
  message: v.object({ id: Id }),
})

/** An operator's message reached the messenger (§5.11); `im` ids are the portal's, `messageIds` ours. */
export const StatusPayloadSchema = v.object({
  im: v.object({ chatId: Id, messageId: Id }),
  /** The messenger ids the operator's message became (text + files: several); stored as CONNECTOR_MID. */
  messageIds: v.pipe(v.array(Id), v.nonEmpty()),
  chat: v.object({ id: Id }),
  date: UnixSeconds,
})

/** The customer read operator messages (§5.12: current portals ignore it, so it stays cheap). */
export const ReadPayloadSchema = v.object({
  chat: v.object({ id: Id }),
  messageIds: v.pipe(v.array(Id), v.nonEmpty()),
  im: v.optional(v.object({ chatId: Id, messageId: Id })),
})

export type ChatRef = v.InferOutput<typeof ChatRefSchema>
export type UserRef = v.InferOutput<typeof UserRefSchema>
export type FileRef = v.InferOutput<typeof FileRefSchema>
export type MessagePayload = v.InferOutput<typeof MessagePayloadSchema>
export type EditPayload = v.InferOutput<typeof EditPayloadSchema>
export type DeletePayload = v.InferOutput<typeof DeletePayloadSchema>
export type StatusPayload = v.InferOutput<typeof StatusPayloadSchema>
export type ReadPayload = v.InferOutput<typeof ReadPayloadSchema>

/** The input shape (what the relay core enqueues): ids may still be numbers. */
export type MessagePayloadInput = v.InferInput<typeof MessagePayloadSchema>

export interface PayloadByKind {
  message: MessagePayload
  edit: EditPayload
  delete: DeletePayload
  status: StatusPayload
  read: ReadPayload
}

const schemas = {
  message: MessagePayloadSchema,
  edit: EditPayloadSchema,
  delete: DeletePayloadSchema,
  status: StatusPayloadSchema,
  read: ReadPayloadSchema,
} as const satisfies Record<DeliveryKind, v.GenericSchema>

export type ParsedPayload<K extends DeliveryKind = DeliveryKind> =
  | { ok: true; kind: K; payload: PayloadByKind[K] }
  | { ok: false; error: string }

/** Validates a stored body against its kind's schema; the error names the paths that failed. */
export function parsePayload<K extends DeliveryKind>(kind: K, payload: unknown): ParsedPayload<K> {
  const schema = schemas[kind] as unknown as v.GenericSchema<unknown, PayloadByKind[K]> | undefined
  if (!schema) return { ok: false, error: `invalid payload: unknown kind ${String(kind)}` }
  const result = v.safeParse(schema, payload)
  if (result.success) return { ok: true, kind, payload: result.output }
  return { ok: false, error: `invalid ${kind} payload: ${describeIssues(result.issues)}` }
}

/**
 * Paths and expectations only: valibot's own messages quote the received value, and a body holds personal
 * data that must not reach `last_error` or the logs.
 */
function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .map((issue) => {
      const path = issue.path?.map((item) => String(item.key)).join('.') || '(root)'
      // A `check` message is our own text; other messages may quote the value.
      if (issue.type === 'check') return `${path}: ${issue.message}`
      const expected = issue.expected ? ` (expected ${issue.expected})` : ''
      return `${path}: ${issue.type}${expected}`
    })
    .join('; ')
}
