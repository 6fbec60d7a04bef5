/**
 * @module Download links of the local store: `exp` (unix seconds) and an HMAC-SHA256 over the key and `exp`,
 * so a link works without credentials until it expires and cannot be bent to another key or time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export type LinkCheck = 'ok' | 'invalid' | 'expired'

function mac(signingKey: Buffer, key: string, exp: number): Buffer {
  // A newline cannot occur in a valid key, so `key\nexp` is unambiguous.
  return createHmac('sha256', signingKey).update(`${key}\n${exp}`).digest()
}

/** @returns the hex signature for `key` valid until `exp` (unix seconds). */
export function signFileLink(signingKey: Buffer, key: string, exp: number): string {
  return mac(signingKey, key, exp).toString('hex')
}

/**
 * Checks a link's `exp` and `sig` query values as received. The signature is checked before the expiry so
 * a forged link never learns anything about time; `nowMs` is injectable for tests.
 */
export function verifyFileLink(
  signingKey: Buffer,
  key: string,
  exp: string | undefined,
  sig: string | undefined,
  nowMs: number,
): LinkCheck {
  if (!exp || !/^\d{1,12}$/.test(exp) || !sig || !/^[0-9a-f]{64}$/.test(sig)) return 'invalid'
  const expected = mac(signingKey, key, Number(exp))
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return 'invalid'
  return nowMs >= Number(exp) * 1000 ? 'expired' : 'ok'
}

/** `${baseUrl}/files/<key>?exp=…&sig=…`, each key segment percent-encoded. */
export function fileLink(baseUrl: string, key: string, exp: number, sig: string): string {
  const path = key.split('/').map(encodeURIComponent).join('/')
  return `${baseUrl.replace(/\/+$/, '')}/files/${path}?exp=${exp}&sig=${sig}`
}
