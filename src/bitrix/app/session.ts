/**
 * @module The placement page's session after its one check with the portal (§7): a short-lived token signed
 * with HMAC-SHA256 and carried in the page's forms. Not a cookie — third-party cookies are blocked in the
 * Bitrix24 iframe. It binds portal, connector, line and the admin who opened the page, and expires.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import * as v from 'valibot'
import type { BitrixAppDeps } from './deps.ts'

export interface PlacementSession {
  portalId: string
  connectorId: string
  lineId: string
  /** Keyed hash of the admin's access token: who opened the page, without keeping the token. */
  user: string
  lang: 'ru' | 'en'
  /** Expiry, epoch milliseconds. */
  exp: number
}

const PURPOSE = 'bitrix placement session v1'

const sessionSchema = v.strictObject({
  portalId: v.string(),
  connectorId: v.string(),
  lineId: v.string(),
  user: v.string(),
  lang: v.picklist(['ru', 'en']),
  exp: v.number(),
})

function mac(keys: BitrixAppDeps['keys'], payload: string): Buffer {
  return createHmac('sha256', keys.deriveKey(PURPOSE)).update(payload).digest()
}

export function signSession(keys: BitrixAppDeps['keys'], session: PlacementSession): string {
  const payload = Buffer.from(JSON.stringify(session)).toString('base64url')
  return `${payload}.${mac(keys, payload).toString('base64url')}`
}

/** @returns the session, or undefined when the token was altered, is malformed or has expired */
export function openSession(
  keys: BitrixAppDeps['keys'],
  token: string,
  now: Date,
): PlacementSession | undefined {
  const [payload, signature, extra] = token.split('.')
  if (!payload || !signature || extra !== undefined) return undefined
  const given = Buffer.from(signature, 'base64url')
  const expected = mac(keys, payload)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  const parsed = v.safeParse(sessionSchema, decoded)
  if (!parsed.success || parsed.output.exp <= now.getTime()) return undefined
  return parsed.output
}
