/**
 * @module Request reading shared by the client and control APIs: JSON bodies validated with valibot (a bad
 * body is 400 BAD_REQUEST naming the field), bearer tokens and integer query parameters.
 */
import * as v from 'valibot'
import { ApiError, badRequest } from './errors.ts'

export async function readBody<S extends v.GenericSchema>(
  req: Request,
  schema: S,
): Promise<v.InferOutput<S>> {
  const text = await req.text()
  let raw: unknown = {}
  if (text.trim() !== '') {
    try {
      raw = JSON.parse(text)
    } catch {
      throw badRequest('BAD_REQUEST', 'The body is not valid JSON')
    }
  }
  const result = v.safeParse(schema, raw)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue.path?.map((p) => String(p.key)).join('.') || 'body'
    throw badRequest('BAD_REQUEST', `${path}: ${issue.message}`)
  }
  return result.output
}

export function bearer(req: Request, url: URL): string | undefined {
  const header = req.headers.get('authorization')
  if (header?.toLowerCase().startsWith('bearer ')) return header.slice(7).trim()
  // WebSocket clients that cannot set headers (browsers) pass it in the query.
  return url.searchParams.get('token') ?? undefined
}

export function intParam(url: URL, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  const raw = url.searchParams.get(name)
  if (raw === null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ApiError('BAD_REQUEST', 400, `${name} must be an integer in ${min}..${max}`)
  }
  return n
}
