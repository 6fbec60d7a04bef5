/**
 * @module What must never reach a log line (PRIVACY P3): message text, phone numbers, tokens, session data.
 * pino's own `redact` only matches fixed paths; personal data turns up at any depth and inside free text,
 * so values are scrubbed by key name at every depth and phone-number/token shapes are masked in strings.
 */

/** Keys whose values are secret or personal whatever their shape. Matched case-insensitively, `_`/`-` ignored. */
const SECRET_KEY =
  /(token|secret|password|passwd|authorization|cookie|session|authkey|apikey|apihash|phone|text|body|caption|credential|privatekey|^authid$|^refreshid$|^auth$|^code$|^sig$)/i

const PHONE = /(?<![\w.])\+?\d(?:[\s\-().]*\d){9,14}(?![\w.])/g
/**
 * Long opaque tokens (OAuth access tokens, bot tokens, base64 keys) in free text: 32+ token characters with
 * both digits and letters. UUIDs (our own ids) are left readable; dots are excluded so file paths survive.
 */
const OPAQUE =
  /(?<![\w\-+/=])(?![0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\w\-+/=]))(?=[\w\-+/=]*\d)(?=[\w\-+/=]*[A-Za-z])[\w\-+/=]{32,}/g

export const REDACTED = '[redacted]'

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.replace(/[_-]/g, ''))
}

export function scrubText(text: string): string {
  return text.replace(PHONE, '[phone]').replace(OPAQUE, REDACTED)
}

/** Returns a scrubbed copy; never mutates what the caller logged. */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value)
  if (value === null || typeof value !== 'object') return value
  if (depth > 8) return '[too deep]'
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code
    return {
      type: value.name,
      message: scrubText(value.message),
      stack: value.stack ? scrubText(value.stack) : undefined,
      // Not `code`: that key is redacted everywhere (OAuth and login codes).
      ...(typeof code === 'string' ? { errorCode: code } : {}),
    }
  }
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSecretKey(key) && item !== undefined && item !== null ? REDACTED : scrub(item, depth + 1)
  }
  return out
}
