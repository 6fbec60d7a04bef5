/**
 * @module How audit entries and receipts name the subject of a request after its data is gone (D5): a keyed
 * hash (HMAC-SHA-256 with a key derived from the key ring), never an address, a name or a phone number.
 * The same subject always gets the same reference while the active key stays, so requests about it can be
 * told apart from others without anyone being able to read who it was.
 */
import { createHmac } from 'node:crypto'
import { canonicalJson } from '../../storage/repos/audit-log.ts'
import { portalRef } from '../bitrix/app/security.ts'

export interface KeySource {
  deriveKey(purpose: string): Buffer
}

/** The portal, as every audit entry and receipt of the project names it. */
export function portalSubjectRef(keys: KeySource, memberId: string): string {
  return portalRef(keys, memberId)
}

/** One contact of a portal, by what the request identified it with. */
export function contactSubjectRef(
  keys: KeySource,
  memberId: string,
  selector: Record<string, unknown>,
): string {
  const hmac = createHmac('sha256', keys.deriveKey('olchat privacy subject v1'))
  return `contact:${hmac
    .update(`${memberId}\n${canonicalJson(selector)}`)
    .digest('hex')
    .slice(0, 32)}`
}
