/**
 * @module valibot schemas of the MAX Bot API answers and updates we read (reference/max-bot-api.md §3–§5).
 * Objects keep only the fields named here (valibot's `object` drops the rest), so a new field MAX adds never
 * breaks parsing. `seq` is deliberately absent: it overflows JS numbers (§2.6) and nothing keys on it.
 */
import * as v from 'valibot'

/** int64 ids (`user_id`, `chat_id`): within 2^53 for every id seen (§2.6); group chats are negative. */
const Id = v.pipe(v.number(), v.safeInteger())
const text = v.nullish(v.string())

export const User = v.object({
  user_id: Id,
  first_name: text,
  last_name: text,
  username: text,
  is_bot: v.optional(v.boolean(), false),
  /** Deprecated in favour of first/last name (§3.1), still sent by some answers. */
  name: text,
  avatar_url: text,
  full_avatar_url: text,
})
export type User = v.InferOutput<typeof User>

/** `GET /me` (§3.1). */
export const BotInfo = v.object({ ...User.entries, description: text })

/** `{code, message}` of a failed call (§2.5). */
export const ErrorBody = v.object({ code: v.optional(v.string()), message: v.optional(v.string()) })

/** `SimpleQueryResult` (§2.5): 200 with `success: false` is a refusal. */
export const SimpleResult = v.object({ success: v.boolean(), message: text })

/** `{type, from, length}` over the UTF-16 indexes of `text` (§4.5 MarkupElement). */
export const MarkupElement = v.object({
  type: v.string(),
  from: v.pipe(v.number(), v.integer(), v.minValue(0)),
  length: v.pipe(v.number(), v.integer(), v.minValue(0)),
  url: text,
})
export type MarkupElement = v.InferOutput<typeof MarkupElement>

/** An attachment as received; the payload is read per type in `attachments.ts`. */
export const Attachment = v.looseObject({ type: v.string() })
export type Attachment = v.InferOutput<typeof Attachment>

export const MessageBody = v.object({
  mid: v.string(),
  text,
  attachments: v.nullish(v.array(Attachment)),
  markup: v.nullish(v.array(MarkupElement)),
})
export type MessageBody = v.InferOutput<typeof MessageBody>

/** The body of a forwarded or replied-to message (§4.4 `link.message`): `mid` may be missing on forwards. */
const LinkedBody = v.object({ ...MessageBody.entries, mid: text })

export const Message = v.object({
  sender: v.nullish(User),
  recipient: v.object({ chat_id: v.nullish(Id), chat_type: v.string(), user_id: v.nullish(Id) }),
  timestamp: v.number(),
  link: v.nullish(
    v.object({ type: v.string(), sender: v.nullish(User), chat_id: v.nullish(Id), message: LinkedBody }),
  ),
  body: MessageBody,
})
export type Message = v.InferOutput<typeof Message>

const envelope = { timestamp: v.number() }

/** The update types this connector acts on (§4.3); every other type is acknowledged and counted. */
export const HandledUpdate = v.variant('update_type', [
  v.object({ update_type: v.literal('message_created'), ...envelope, message: Message }),
  v.object({ update_type: v.literal('message_edited'), ...envelope, message: Message }),
  v.object({
    update_type: v.literal('message_removed'),
    ...envelope,
    message_id: v.string(),
    chat_id: Id,
    user_id: v.nullish(Id),
  }),
  v.object({
    update_type: v.literal('bot_started'),
    ...envelope,
    chat_id: Id,
    user: User,
    payload: text,
  }),
  v.object({ update_type: v.literal('bot_stopped'), ...envelope, chat_id: Id, user: User }),
  v.object({ update_type: v.literal('dialog_removed'), ...envelope, chat_id: Id, user: User }),
])
export type HandledUpdate = v.InferOutput<typeof HandledUpdate>
export type HandledUpdateType = HandledUpdate['update_type']

export const HANDLED_UPDATE_TYPES: readonly HandledUpdateType[] = [
  'message_created',
  'message_edited',
  'message_removed',
  'bot_started',
  'bot_stopped',
  'dialog_removed',
]

/** What every update has (§4.3). */
export const UpdateEnvelope = v.looseObject({ update_type: v.string(), ...envelope })

/** `GET /updates` (§4.1); the marker is read from the raw text (int64), see `polling.ts`. */
export const UpdateList = v.object({ updates: v.array(v.unknown()) })

/** `GET /chats/{chatId}` (§3.3). */
export const Chat = v.object({
  chat_id: Id,
  type: v.string(),
  status: v.optional(v.string()),
  dialog_with_user: v.nullish(User),
})

/** `GET /subscriptions` (§4.2). */
export const SubscriptionList = v.object({
  subscriptions: v.array(v.object({ url: v.string(), update_types: v.nullish(v.array(v.string())) })),
})

/** `POST /messages` answers `{message}` (§5.1). */
export const SentMessageAnswer = v.object({ message: Message })

/** `GET /messages?chat_id=` answers newest first (§5.2). */
export const MessageList = v.object({ messages: v.array(Message) })

/** `POST /uploads?type=` (§5.3 step 1): video and audio get their token here. */
export const UploadSlot = v.object({ url: v.pipe(v.string(), v.url()), token: text })

/** Step 2 answers: `{token}` (file) or `{photos: {key: {token}}}` (image) (§5.3). */
export const UploadAnswer = v.object({
  token: text,
  photos: v.nullish(v.record(v.string(), v.object({ token: v.string() }))),
})

/** `GET /videos/{token}` (§4.5): playable links of a received video. */
export const VideoInfo = v.object({ urls: v.nullish(v.record(v.string(), text)) })
