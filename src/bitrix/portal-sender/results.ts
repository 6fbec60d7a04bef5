/**
 * @module Reading the portal's answers (reference/bitrix24.md §5.8–5.12). `send/update/delete.messages`
 * answer per item (`DATA.RESULT[i].SUCCESS`, `ERRORS`) while the call itself succeeds, so every item is
 * checked; `send.status.*` answer once for the call. Older portals report a whole-call failure as
 * `SUCCESS:false` with HTTP 200 instead of a 400 (§5.8, §11.13): both are read here.
 */
import * as v from 'valibot'
import type { DeliveryKind } from '../../../storage/repos/deliveries.ts'

export type ItemOutcome = { ok: true; portalChatId?: string } | { ok: false; error: string }

export type CallOutcome =
  | { kind: 'items'; items: ItemOutcome[] }
  /** The call as a whole was refused in a 200 answer (older portals). */
  | { kind: 'refused'; code: string; description: string }

/** Lowercases object keys down to `depth` levels: the portal mixes `SUCCESS`/`session`/`CHAT_ID`. */
function lowerKeys(value: unknown, depth: number): unknown {
  if (depth === 0 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((item) => lowerKeys(item, depth))
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key.toLowerCase(), lowerKeys(inner, depth - 1)]),
  )
}

const IdLike = v.pipe(v.union([v.string(), v.number()]), v.transform(String))
const ItemSchema = v.looseObject({
  success: v.optional(v.unknown()),
  errors: v.optional(v.unknown()),
  session: v.optional(v.nullable(v.looseObject({ chat_id: v.optional(v.nullable(IdLike)) }))),
})
const ResultSchema = v.looseObject({
  success: v.optional(v.unknown()),
  errors: v.optional(v.unknown()),
  error: v.optional(v.unknown()),
  error_description: v.optional(v.unknown()),
  data: v.optional(v.unknown()),
})
const DataSchema = v.looseObject({ result: v.optional(v.array(v.unknown())) })

const truthy = (flag: unknown) => flag === true || flag === 1 || flag === '1' || flag === 'Y' || flag === 'y'
const falsy = (flag: unknown) => flag === false || flag === 0 || flag === '0' || flag === 'N' || flag === 'n'

/** Error texts of an `ERRORS` value (array, map or string), short and without item bodies. */
export function errorText(errors: unknown): string {
  const parts: string[] = []
  const visit = (value: unknown) => {
    if (typeof value === 'string' || typeof value === 'number') parts.push(String(value))
    else if (Array.isArray(value)) value.forEach(visit)
    else if (value && typeof value === 'object') Object.values(value).forEach(visit)
  }
  visit(errors)
  return parts.join('; ').slice(0, 500) || 'no error given'
}

/** Per-item outcomes of a call that answered 200. Missing item results count as failures. */
export function readCallResult(kind: DeliveryKind, result: unknown, count: number): CallOutcome {
  const parsed = v.safeParse(ResultSchema, lowerKeys(result, 1))
  if (!parsed.success) {
    return { kind: 'refused', code: 'UNEXPECTED_RESULT', description: 'the answer is not an object' }
  }
  const outer = parsed.output
  if (falsy(outer.success)) {
    const text = errorText([outer.error, outer.error_description, outer.errors])
    const code = /NOT_ACTIVE_LINE/.test(text) ? 'NOT_ACTIVE_LINE' : String(outer.error ?? 'CALL_FAILED')
    return { kind: 'refused', code, description: text }
  }
  // §5.11/§5.12: status calls have no per-item results; success of the call is success of every item.
  if (kind === 'status' || kind === 'read') {
    return { kind: 'items', items: Array.from({ length: count }, () => ({ ok: true }) as const) }
  }
  const data = v.safeParse(DataSchema, lowerKeys(outer.data, 1))
  const results = data.success ? (data.output.result ?? []) : []
  const items = Array.from({ length: count }, (_, index): ItemOutcome => {
    const item = v.safeParse(ItemSchema, lowerKeys(results[index], 2))
    if (!item.success) return { ok: false, error: 'the portal returned no result for this item' }
    if (!truthy(item.output.success)) return { ok: false, error: errorText(item.output.errors) }
    const chatId = item.output.session?.chat_id
    return chatId ? { ok: true, portalChatId: chatId } : { ok: true }
  })
  return { kind: 'items', items }
}
