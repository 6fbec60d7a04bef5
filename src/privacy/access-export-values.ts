/**
 * @module Column values of an access export (D1) as JSON. Sealed columns (`*_enc`, sealed for the context
 * `<table>.<column>` — the repositories' convention) are opened with the key ring and shown, except the
 * authentication secrets: a session, an auth key or an app token is reported as held (and its size) but not
 * handed out — a copy would let its reader act as the account or the app, which no access request needs.
 */
import { DecryptError } from '../crypto/key-ring.ts'
import type { SecretBox } from '../crypto/secret-box.ts'
import type { ExportedValue } from './access-export-types.ts'

/** Sealed contexts that are credentials rather than information about a person. */
export const AUTHENTICATION_SECRETS: ReadonlySet<string> = new Set([
  'accounts.credentials',
  'account_sessions.value',
  'telegram_auth_keys.key',
  'telegram_kv.value',
  'portals.application_token',
  'portals.access_token',
  'portals.refresh_token',
  'portals.app_client_secret',
])

/** Keys inside opened JSON documents that hold credentials (MTProto access hashes, tokens). */
const SECRET_FIELD = /^(access_?hash|.*token|.*secret|password|auth_?key)$/i

const utf8 = new TextDecoder('utf-8', { fatal: true })

export const isSealedColumn = (column: string) => column.endsWith('_enc')

/** The name a column is exported under: sealed columns without their `_enc`. */
export const exportedName = (column: string) => column.replace(/_enc$/, '')

function withoutSecretFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecretFields)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      SECRET_FIELD.test(key) ? { withheld: 'authentication-secret' } : withoutSecretFields(inner),
    ]),
  )
}

/** Opened bytes: JSON when they parse, text when they are UTF-8, base64 otherwise. */
function openedValue(bytes: Buffer): ExportedValue {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { binary: bytes.toString('base64'), bytes: bytes.length }
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (parsed !== null && typeof parsed === 'object') return withoutSecretFields(parsed) as ExportedValue
  } catch {
    // plain text
  }
  return text
}

export function exportValue(
  secrets: SecretBox,
  table: string,
  column: string,
  value: unknown,
  isJson: boolean,
): ExportedValue {
  if (value === null || value === undefined) return null
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const bytes = Buffer.from(value)
    if (!isSealedColumn(column)) return { binary: bytes.toString('base64'), bytes: bytes.length }
    const context = `${table}.${exportedName(column)}`
    if (AUTHENTICATION_SECRETS.has(context)) return { withheld: 'authentication-secret', bytes: bytes.length }
    try {
      return openedValue(secrets.open(bytes, context))
    } catch (error) {
      // Sealed with a key since dropped from the ring, or damaged: held all the same, so reported.
      if (error instanceof DecryptError)
        return { unreadable: 'cannot be opened with the key ring', bytes: bytes.length }
      throw error
    }
  }
  if (value instanceof Date) return value.toISOString()
  if (isJson && typeof value === 'string') return JSON.parse(value) as ExportedValue
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  return JSON.parse(JSON.stringify(value)) as ExportedValue
}

/** Every string inside an exported value (to find the objects a contact's rows point at). */
export function stringsIn(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') found.push(value)
  else if (Array.isArray(value)) for (const inner of value) stringsIn(inner, found)
  else if (value !== null && typeof value === 'object')
    for (const inner of Object.values(value)) stringsIn(inner, found)
  return found
}
