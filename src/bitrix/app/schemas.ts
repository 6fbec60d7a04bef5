/**
 * @module valibot schemas of everything Bitrix24 posts to Olchat, after form decoding (`form.ts`): every
 * scalar is a string, empty arrays are missing (reference/bitrix24.md §6.2). Objects are loose: keys Bitrix24
 * adds later are tolerated, the ones read here are checked.
 */
import * as v from 'valibot'

const text = (max: number) => v.pipe(v.string(), v.maxLength(max))
const nonEmpty = (max: number) => v.pipe(v.string(), v.minLength(1), v.maxLength(max))
export const digits = v.pipe(v.string(), v.regex(/^\d{1,19}$/, 'digits'))
/** OAuth tokens and the application token: printable ASCII without spaces. */
export const token = v.pipe(v.string(), v.regex(/^[\x21-\x7e]{1,1024}$/, 'a token'))
export const memberId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,128}$/, 'a member id'))
const connectorId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_]{1,64}$/, 'a connector id'))
const httpUrl = v.pipe(v.string(), v.maxLength(4096), v.regex(/^https?:\/\/[^\s]+$/i, 'an http(s) URL'))
/** `host` or `host:port` (emulators listen on loopback ports). */
export const domain = v.pipe(
  v.string(),
  v.maxLength(260),
  v.regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63}(:\d{1,5})?$/, 'a host name'),
)

const isRecord = (input: unknown) => typeof input === 'object' && input !== null && !Array.isArray(input)

/**
 * A nested object. valibot's object schemas accept arrays too (`data=x&data[K]=y` decodes to an array), which
 * would let an array with only optional keys through: refuse anything but a plain object first.
 */
const record = <E extends v.ObjectEntries>(entries: E) =>
  v.pipe(v.custom<Record<string, unknown>>(isRecord, 'expected an object'), v.looseObject(entries))

/**
 * §6.3: the `auth` block of every event. Portal and application token are optional here: an event without
 * them is unauthenticated (401), not malformed.
 */
const authEntries = {
  application_token: v.optional(token),
  member_id: v.optional(memberId),
  domain: v.optional(domain),
  client_endpoint: v.optional(httpUrl),
  server_endpoint: v.optional(httpUrl),
  access_token: v.optional(token),
  refresh_token: v.optional(token),
  expires: v.optional(digits),
  expires_in: v.optional(digits),
  scope: v.optional(text(1024)),
  status: v.optional(text(16)),
  user_id: v.optional(digits),
}
const auth = record(authEntries)

const envelope = {
  event_handler_id: v.optional(digits),
  ts: digits,
  auth: v.optional(auth, {}),
}

const im = record({ chat_id: digits, message_id: digits })
const chat = record({ id: nonEmpty(256) })
/** §6.4 `message.files[]`: name, type, mime, link, size, sizef (+ width, height for images). */
const file = record({
  link: httpUrl,
  name: v.optional(text(1024)),
  type: v.optional(text(64)),
  mime: v.optional(text(256)),
  size: v.optional(digits),
})
/** §6.5: an array of the ids given in the delivery status; old portals send a single value. */
const externalIds = v.union([nonEmpty(256), v.pipe(v.array(nonEmpty(256)), v.minLength(1), v.maxLength(100))])

const messages = <T extends v.GenericSchema>(item: T) =>
  v.pipe(v.array(item), v.minLength(1), v.maxLength(1000))

const lineData = { CONNECTOR: connectorId, LINE: digits }

const messageAdd = v.looseObject({
  event: v.literal('ONIMCONNECTORMESSAGEADD'),
  ...envelope,
  data: record({
    ...lineData,
    MESSAGES: messages(
      record({
        im,
        message: record({
          user_id: v.optional(digits),
          text: v.optional(text(100_000)),
          files: v.optional(v.pipe(v.array(file), v.maxLength(100))),
        }),
        chat,
      }),
    ),
  }),
})

const messageUpdate = v.looseObject({
  event: v.literal('ONIMCONNECTORMESSAGEUPDATE'),
  ...envelope,
  data: record({
    ...lineData,
    MESSAGES: messages(
      record({
        im,
        message: record({
          id: externalIds,
          text: v.optional(text(100_000)),
          user_id: v.optional(digits),
        }),
        chat,
      }),
    ),
  }),
})

const messageDelete = v.looseObject({
  event: v.literal('ONIMCONNECTORMESSAGEDELETE'),
  ...envelope,
  data: record({
    ...lineData,
    MESSAGES: messages(record({ im, message: record({ id: externalIds }), chat })),
  }),
})

/** §6.8: lowercase keys; upper-case ones are accepted too (docs and source drift, pitfall 19). */
const statusDelete = v.looseObject({
  event: v.literal('ONIMCONNECTORSTATUSDELETE'),
  ...envelope,
  data: v.pipe(
    record({
      connector: v.optional(connectorId),
      line: v.optional(digits),
      CONNECTOR: v.optional(connectorId),
      LINE: v.optional(digits),
    }),
    v.check(
      (data) => (data.connector ?? data.CONNECTOR) !== undefined && (data.line ?? data.LINE) !== undefined,
      'connector and line are required',
    ),
    v.transform((data) => ({
      connector: (data.connector ?? data.CONNECTOR)!,
      line: (data.line ?? data.LINE)!,
    })),
  ),
})

/** §6.9: `data` is the line id itself. */
const lineDelete = v.looseObject({ event: v.literal('ONIMCONNECTORLINEDELETE'), ...envelope, data: digits })

const dialogItem = record({
  connector: v.optional(record({ chat_id: v.optional(nonEmpty(256)), user_id: v.optional(digits) })),
  session: v.optional(
    record({
      id: digits,
      closed: v.optional(v.picklist(['Y', 'N'])),
      parent_id: v.optional(digits),
      close_term: v.optional(digits),
    }),
  ),
  chat: v.optional(chat),
  user: v.optional(record({ id: v.optional(digits) })),
})

const dialog = (name: 'ONIMCONNECTORDIALOGSTART' | 'ONIMCONNECTORDIALOGFINISH') =>
  v.looseObject({
    event: v.literal(name),
    ...envelope,
    data: record({ ...lineData, DATA: v.optional(v.pipe(v.array(dialogItem), v.maxLength(1000))) }),
  })

/** §2.3: the only event with a refresh token; it may create the portal, so its tokens are required. */
const appInstall = v.looseObject({
  event: v.literal('ONAPPINSTALL'),
  ...envelope,
  auth: record({ ...authEntries, access_token: token, refresh_token: token, domain }),
  data: v.optional(
    record({
      VERSION: v.optional(text(32)),
      ACTIVE: v.optional(text(8)),
      INSTALLED: v.optional(text(8)),
      LANGUAGE_ID: v.optional(text(8)),
    }),
  ),
})

const appUpdate = v.looseObject({
  event: v.literal('ONAPPUPDATE'),
  ...envelope,
  data: v.optional(
    record({
      VERSION: v.optional(text(32)),
      PREVIOUS_VERSION: v.optional(text(32)),
      LANGUAGE_ID: v.optional(text(8)),
    }),
  ),
})

/** §2.5: `CLEAN` is `"1"` / `"0"`; no usable tokens. */
const appUninstall = v.looseObject({
  event: v.literal('ONAPPUNINSTALL'),
  ...envelope,
  data: v.optional(
    record({ LANGUAGE_ID: v.optional(text(8)), CLEAN: v.optional(v.picklist(['0', '1', ''])) }),
  ),
})

export const eventSchema = v.variant('event', [
  messageAdd,
  messageUpdate,
  messageDelete,
  statusDelete,
  lineDelete,
  dialog('ONIMCONNECTORDIALOGSTART'),
  dialog('ONIMCONNECTORDIALOGFINISH'),
  appInstall,
  appUpdate,
  appUninstall,
])

export type BitrixEvent = v.InferOutput<typeof eventSchema>
export type EventName = BitrixEvent['event']
export type EventOf<N extends EventName> = Extract<BitrixEvent, { event: N }>
/** An event without its `auth` block (key remapping keeps the loose objects' known keys, `Omit` not). */
export type WithoutAuth<T> = T extends unknown
  ? { [K in keyof T as K extends 'auth' ? never : K]: T[K] }
  : never

/** §2.2: the query string of an app page, install page or placement POST. */
export const pageQuerySchema = v.looseObject({
  DOMAIN: domain,
  PROTOCOL: v.optional(v.picklist(['0', '1'])),
  LANG: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z]{2}(_[A-Za-z]{2})?$/, 'a language code'))),
  APP_SID: v.optional(text(256)),
})

/** §2.2: the body of the install page POST. */
export const installBodySchema = v.looseObject({
  AUTH_ID: token,
  AUTH_EXPIRES: digits,
  REFRESH_ID: token,
  SERVER_ENDPOINT: v.optional(httpUrl),
  APPLICATION_TOKEN: token,
  APPLICATION_SCOPE: v.optional(text(1024)),
  member_id: memberId,
  status: v.optional(text(16)),
  PLACEMENT: v.optional(text(64)),
  PLACEMENT_OPTIONS: v.optional(text(8192)),
})

/** §7: `PLACEMENT_OPTIONS` of `SETTING_CONNECTOR`, a JSON string. */
const placementOptions = v.pipe(
  v.string(),
  v.maxLength(8192),
  v.parseJson(),
  record({
    CONNECTOR: connectorId,
    LINE: v.pipe(
      v.union([digits, v.pipe(v.number(), v.integer(), v.minValue(0))]),
      v.transform((line) => String(line)),
    ),
  }),
)

/** §7: the body of the `SETTING_CONNECTOR` placement POST. */
export const placementBodySchema = v.looseObject({
  AUTH_ID: token,
  AUTH_EXPIRES: v.optional(digits),
  REFRESH_ID: v.optional(token),
  APPLICATION_TOKEN: v.optional(token),
  member_id: memberId,
  PLACEMENT: v.literal('SETTING_CONNECTOR'),
  PLACEMENT_OPTIONS: placementOptions,
})

/**
 * A click on the placement page: bind/unbind, or save the employee the account owner's own messages are
 * shown as (`employee`: a Bitrix24 user id, empty to clear).
 */
export const placementActionSchema = v.pipe(
  v.object({
    session: v.pipe(v.string(), v.maxLength(2048)),
    action: v.picklist(['bind', 'unbind', 'employee']),
    account: v.pipe(v.string(), v.uuid('an account id')),
    employee: v.optional(
      v.pipe(v.string(), v.trim(), v.regex(/^([1-9][0-9]{0,17})?$/, 'a Bitrix24 user id or nothing')),
    ),
  }),
  v.check((form) => form.action !== 'employee' || form.employee !== undefined, 'employee: missing'),
)

/** `path: reason` of the first problem, without echoing the value (it may be personal data). */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0]
  if (!issue) return 'invalid input'
  const path = v.getDotPath(issue) ?? 'body'
  if (path === 'event' && issue.kind === 'schema') return 'event: missing or unsupported event name'
  if (issue.received === 'undefined') return `${path}: missing`
  if (issue.type === 'parse_json') return `${path}: not valid JSON`
  // Custom messages of regex/check/uuid name the expected shape; default messages would quote the input.
  if (issue.type === 'regex' || issue.type === 'check' || issue.type === 'uuid')
    return `${path}: ${issue.message}`
  return `${path}: expected ${issue.expected ?? 'a different value'}`
}
