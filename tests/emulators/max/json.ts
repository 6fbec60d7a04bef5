/**
 * @module JSON answers of the emulator. MAX numbers are int64 and `body.seq` really exceeds 2^53 (reference §2.6,
 * the Go fixture `116327994376978687`), so values held as `bigint` are written as bare number literals: a client
 * that `JSON.parse`s them loses precision exactly as it would against MAX.
 */

// A per-process marker no real text carries; uuids need no escaping in JSON or in a RegExp.
const BIG = `@@bigint:${crypto.randomUUID()}:`
const BIG_QUOTED = new RegExp(`"${BIG}(-?\\d+)"`, 'g')

/** `JSON.stringify` that writes bigints as plain number literals. */
export function stringify(value: unknown): string {
  const text = JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${BIG}${v}` : v))
  return text.replace(BIG_QUOTED, '$1')
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  })
}

/** An error answer `{ code, message }` (reference §2.5 `Error`). */
export class MaxApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }

  response(): Response {
    return json(this.status, { code: this.code, message: this.message })
  }
}

// Codes the reference documents (§2.2, §2.5): verify.token, attachment.not.ready, chat.denied, not.found.
// The others are the emulator's own choice where the reference names none (see README.md "Error codes").
export const invalidToken = () => new MaxApiError(401, 'verify.token', 'Invalid access_token')
export const notFound = (message: string) => new MaxApiError(404, 'not.found', message)
export const chatDenied = (message: string) => new MaxApiError(403, 'chat.denied', message)
export const badPayload = (message: string) => new MaxApiError(400, 'proto.payload', message)
export const attachmentNotReady = () =>
  new MaxApiError(400, 'attachment.not.ready', 'Key: errors.process.attachment.file.not.processed')
export const tooManyRequests = () => new MaxApiError(429, 'too.many.requests', 'Too many requests')
export const methodNotAllowed = (message: string) => new MaxApiError(405, 'method.not.allowed', message)
