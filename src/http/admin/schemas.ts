/**
 * @module valibot schemas of the admin API: request bodies, path and query parameters, and the response
 * shapes. The validators and the OpenAPI document both read them, so the document cannot drift.
 */
import * as v from 'valibot'

const ACCOUNT_HEALTH = [
  'connecting',
  'online',
  'reconnecting',
  'needs_login',
  'flood_wait',
  'disconnecting',
  'disconnected',
] as const

export const MESSENGERS = ['telegram', 'max', 'sandbox'] as const

const Uuid = v.pipe(v.string(), v.uuid('must be a uuid'))
/** bigint identity ids travel as decimal strings (no precision lost). */
const RowId = v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,18}$/, 'must be a positive integer id'))
const Timestamp = v.pipe(v.string(), v.isoTimestamp())

// Requests

export const AccountIdParams = v.object({ id: Uuid })
export const DeadLetterIdParams = v.object({ id: RowId })
export const LoginIdParams = v.object({
  loginId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be a login id')),
})

export const AccountsQuery = v.object({
  portal: v.optional(Uuid),
})

export const DeadLettersQuery = v.object({
  account: v.optional(Uuid),
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[0-9]{1,4}$/, 'must be a number'),
      v.transform(Number),
      v.minValue(1),
      v.maxValue(500),
    ),
  ),
})

export const CreateAccountBody = v.strictObject({
  portalId: Uuid,
  messenger: v.picklist(MESSENGERS),
  /** A login flow of the connector; default: the first it offers. */
  flow: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9_.-]{1,64}$/, 'must be a flow id'))),
})

/** `POST /accounts/:id/login`: log an existing account in again; the body may be omitted. */
export const ReloginBody = v.strictObject({
  /** A login flow of the account's connector; default: the first it offers. */
  flow: CreateAccountBody.entries.flow,
})

export const LoginStepBody = v.strictObject({
  /** Values of a `user-input` step by field id; omitted after a `display-and-wait` step (waits). */
  input: v.optional(v.record(v.pipe(v.string(), v.maxLength(64)), v.pipe(v.string(), v.maxLength(4096)))),
})

export const BindLineBody = v.strictObject({
  /** `lines.id` of an Open Line of the account's portal, or null to unbind. */
  lineId: v.nullable(RowId),
})

/** A Bitrix24 user id (`ID` of the employee's profile, `…/company/personal/user/<id>/`). */
const BitrixUserId = v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,17}$/, 'must be a Bitrix24 user id'))

export const SetEmployeeBody = v.strictObject({
  /**
   * The Bitrix24 employee the account owner's own messages (typed on the phone) are shown as in the Open
   * Line, or null: they are not relayed.
   */
  employeeId: v.nullable(BitrixUserId),
})

// Responses

const LocalizedText = v.object({ ru: v.string(), en: v.string() })

export const AccountView = v.object({
  id: Uuid,
  portalId: Uuid,
  messenger: v.picklist(MESSENGERS),
  lineId: v.nullable(v.string()),
  remoteId: v.nullable(v.string()),
  displayName: v.nullable(v.string()),
  username: v.nullable(v.string()),
  /** Bitrix24 employee the owner's own messages are shown as; null: they are not relayed. */
  employeeId: v.nullable(v.string()),
  health: v.picklist(ACCOUNT_HEALTH),
  healthChangedAt: Timestamp,
  staleAt: v.nullable(Timestamp),
  createdAt: Timestamp,
})

export const AccountList = v.object({ accounts: v.array(AccountView) })

const LoginField = v.object({
  id: v.string(),
  kind: v.picklist(['phone', 'code', 'password', 'token', 'text']),
  label: LocalizedText,
  pattern: v.optional(v.string()),
})

export const LoginStepView = v.variant('type', [
  v.object({
    type: v.literal('user-input'),
    stepId: v.string(),
    instructions: LocalizedText,
    fields: v.array(LoginField),
  }),
  v.object({
    type: v.literal('display-and-wait'),
    stepId: v.string(),
    instructions: LocalizedText,
    displayData: v.object({ kind: v.picklist(['qr', 'code', 'nothing']), data: v.optional(v.string()) }),
    expiresAt: v.optional(Timestamp),
  }),
  v.object({
    type: v.literal('complete'),
    stepId: v.string(),
    instructions: LocalizedText,
    accountId: Uuid,
  }),
])

export const LoginView = v.object({
  loginId: v.string(),
  portalId: Uuid,
  messenger: v.picklist(MESSENGERS),
  flow: v.string(),
  /** The login is forgotten after this time without a step. */
  expiresAt: Timestamp,
  step: LoginStepView,
  /** Only with a `complete` step: the stored account and whether its actor could be started. */
  account: v.optional(AccountView),
  started: v.optional(v.boolean()),
})

export const DeadLetterView = v.object({
  id: v.string(),
  accountId: Uuid,
  chatId: v.nullable(v.string()),
  direction: v.picklist(['to_portal', 'to_messenger']),
  kind: v.picklist(['message', 'edit', 'delete', 'read', 'status']),
  attempts: v.number(),
  lastError: v.nullable(v.string()),
  createdAt: Timestamp,
  finishedAt: v.nullable(Timestamp),
  expiresAt: Timestamp,
  /** The body is still there and the 7 days (R8) have not run out. */
  retryable: v.boolean(),
})

export const DeadLetterList = v.object({ deadLetters: v.array(DeadLetterView) })

export const RetriedView = v.object({ id: v.string(), status: v.literal('pending') })

export const ErrorView = v.looseObject({
  error: v.string(),
  message: v.string(),
  issues: v.optional(
    v.array(v.object({ in: v.picklist(['json', 'param', 'query']), path: v.string(), message: v.string() })),
  ),
})

export type AccountViewT = v.InferOutput<typeof AccountView>
export type LoginViewT = v.InferOutput<typeof LoginView>
export type LoginStepViewT = v.InferOutput<typeof LoginStepView>
export type DeadLetterViewT = v.InferOutput<typeof DeadLetterView>
