/**
 * @module Encodes `batch` sub-commands as `method?<query>` with PHP bracket keys (reference/bitrix24.md §4.2,
 * §4.5): `FIELDS[TITLE]=x&MESSAGES[0][user][id]=42`. The portal parses each command with PHP's query parser, so
 * the value types it sees are strings; a caller that needs real JSON booleans (e.g. `imconnector.register`
 * flags) must use `call`, not `batch`.
 */

/**
 * `encodeURIComponent`, but `[`, `]` and `$` stay literal in values so `$result[a][ID]` references survive
 * whether the portal substitutes them before or after parsing the query.
 */
function encodeValue(text: string): string {
  return encodeURIComponent(text).replace(/%5B/gi, '[').replace(/%5D/gi, ']').replace(/%24/g, '$')
}

function scalar(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`batch parameter is not a finite number: ${value}`)
      return String(value)
    case 'bigint':
      return String(value)
    // PHP style: '1' and '0' are truthy and falsy there, unlike 'Y'/'N'.
    case 'boolean':
      return value ? '1' : '0'
    default:
      return undefined
  }
}

function walk(value: unknown, key: string, out: string[]): void {
  if (value === undefined) return
  // The query string has no null; an empty value is the closest ("clear this field").
  if (value === null) {
    out.push(`${key}=`)
    return
  }
  if (value instanceof Date) {
    out.push(`${key}=${encodeValue(value.toISOString())}`)
    return
  }
  const text = scalar(value)
  if (text !== undefined) {
    out.push(`${key}=${encodeValue(text)}`)
    return
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) walk(item, `${key}[${index}]`, out)
    return
  }
  if (typeof value === 'object') {
    // Empty arrays and objects vanish, exactly as with PHP's http_build_query.
    for (const [name, item] of Object.entries(value)) walk(item, `${key}[${encodeURIComponent(name)}]`, out)
    return
  }
  throw new TypeError(`batch parameter ${key} has an unsupported type: ${typeof value}`)
}

/** The query string of `params` in PHP bracket notation (no leading `?`). */
export function encodePhpQuery(params: Record<string, unknown>): string {
  const out: string[] = []
  for (const [name, value] of Object.entries(params)) walk(value, encodeURIComponent(name), out)
  return out.join('&')
}

/** One `cmd` entry of a `batch` request: `method` or `method?query`. */
export function encodeBatchCommand(method: string, params: Record<string, unknown> = {}): string {
  const query = encodePhpQuery(params)
  return query === '' ? method : `${method}?${query}`
}
