/**
 * @module Sessions of Bitrix24 users after their one check with the portal: a short-lived token signed with
 * HMAC-SHA256 under a key derived from the key ring, bound to portal, user, role and expiry. It travels in
 * the `Authorization: Bearer` header — never a cookie, since the Bitrix24 iframe blocks third-party cookies
 * — and needs no table: nothing to purge on uninstall (a session of a removed portal is refused, see
 * `authenticate.ts`). Rotating the key ring ends every session early; the panel then exchanges again.
 *
 * Format: `ols1.<base64url JSON payload>.<base64url HMAC of "ols1.<payload>">`. The prefix tells a session
 * from an API token (those have no dots) and versions the format.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import * as v from 'valibot'

export const SESSION_PREFIX = 'ols1'
const PURPOSE = 'olchat api session v1'

export interface SessionClaims {
  portalId: string
  /** The Bitrix24 user id the portal confirmed. */
  userId: string
  role: string
  /** Epoch milliseconds. */
  issuedAt: number
  expiresAt: number
  /** Random id: ties the audit entries of one session together. */
  sessionId: string
}

const claimsSchema = v.strictObject({
  portalId: v.pipe(v.string(), v.uuid()),
  userId: v.pipe(v.string(), v.regex(/^[0-9]{1,18}$/)),
  role: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  issuedAt: v.pipe(v.number(), v.integer()),
  expiresAt: v.pipe(v.number(), v.integer()),
  sessionId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{16,64}$/)),
})

export interface SessionKeys {
  deriveKey(purpose: string): Buffer
}

function mac(keys: SessionKeys, signed: string): Buffer {
  return createHmac('sha256', keys.deriveKey(PURPOSE)).update(signed).digest()
}

export function newSessionId(): string {
  return randomBytes(12).toString('base64url')
}

export function signSessionToken(keys: SessionKeys, claims: SessionClaims): string {
  const signed = `${SESSION_PREFIX}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${signed}.${mac(keys, signed).toString('base64url')}`
}

export function looksLikeSessionToken(token: string): boolean {
  return token.startsWith(`${SESSION_PREFIX}.`)
}

export type OpenedSession =
  | { ok: true; claims: SessionClaims }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' }

/** Checks the signature first (nothing unsigned is parsed), then the claims, then the expiry. */
export function openSessionToken(keys: SessionKeys, token: string, now: Date): OpenedSession {
  const parts = token.split('.')
  if (parts.length !== 3 || parts[0] !== SESSION_PREFIX || !parts[1] || !parts[2]) {
    return { ok: false, reason: 'malformed' }
  }
  const given = Buffer.from(parts[2], 'base64url')
  const expected = mac(keys, `${parts[0]}.${parts[1]}`)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad_signature' }
  }
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  const parsed = v.safeParse(claimsSchema, decoded)
  if (!parsed.success) return { ok: false, reason: 'malformed' }
  if (parsed.output.expiresAt <= now.getTime()) return { ok: false, reason: 'expired' }
  return { ok: true, claims: parsed.output }
}
