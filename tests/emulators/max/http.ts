/** @module Request reading for the Bot API: JSON bodies checked with valibot (→ 400 naming the field) and query integers. */
import * as v from 'valibot'
import { badPayload } from './json.ts'

export async function readBody<S extends v.GenericSchema>(
  req: Request,
  schema: S,
): Promise<v.InferOutput<S>> {
  const text = await req.text()
  let raw: unknown
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text)
  } catch {
    throw badPayload('The body is not valid JSON')
  }
  const result = v.safeParse(schema, raw)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue.path?.map((p) => String(p.key)).join('.') || 'body'
    throw badPayload(`${path}: ${issue.message}`)
  }
  return result.output
}

/** An int64 query parameter (ids may be negative for group chats, reference §2.6); undefined when absent. */
export function intQuery(url: URL, name: string, range?: { min: number; max: number }): number | undefined {
  const raw = url.searchParams.get(name)
  if (raw === null || raw === '') return undefined
  if (!/^-?\d+$/.test(raw)) throw badPayload(`${name} must be an integer`)
  const n = Number(raw)
  if (range && (n < range.min || n > range.max))
    throw badPayload(`${name} must be in ${range.min}..${range.max}`)
  return n
}

export function listQuery(url: URL, name: string): string[] | null {
  const raw = url.searchParams.get(name)
  if (raw === null || raw.trim() === '') return null
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}
