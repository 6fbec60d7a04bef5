/**
 * @module Small HTTP helpers shared by the OAuth, REST and control listeners: JSON answers and request
 * parameter reading with PHP semantics (§4.1, §4.2: query, form body with bracket keys, multipart, or a JSON
 * body).
 */
import { isRecord } from './errors.ts'
import { pairsToParams, parsePhpQuery } from './php-form.ts'

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  })
}

export class BadBody extends Error {}

/**
 * Query parameters merged with body parameters (body wins, like PHP's `$_REQUEST` order GP). A JSON body must
 * be an object; anything unreadable throws `BadBody`.
 */
export async function readParams(req: Request, url: URL): Promise<Record<string, unknown>> {
  const query = parsePhpQuery(url.search)
  if (req.method === 'GET' || req.method === 'HEAD') return query
  const type = (req.headers.get('content-type') ?? '').toLowerCase()
  let body: Record<string, unknown> = {}
  if (type.includes('application/json')) {
    const text = await req.text()
    if (text.trim() !== '') {
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw new BadBody('Request body is not valid JSON')
      }
      if (!isRecord(parsed)) throw new BadBody('JSON body must be an object')
      body = parsed
    }
  } else if (type.includes('multipart/form-data')) {
    const form = await req.formData()
    const pairs: [string, string][] = []
    form.forEach((value, key) => {
      pairs.push([key, typeof value === 'string' ? value : value.name])
    })
    body = pairsToParams(pairs)
  } else {
    body = parsePhpQuery(await req.text())
  }
  return { ...query, ...body }
}
