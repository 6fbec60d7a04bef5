/**
 * @module Small security helpers of the Bitrix24 app: constant-time secret comparison, keyed hashes (dedup
 * keys, the portal reference kept after deletion), and the https-only rule for portal endpoints.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { BitrixAppDeps } from './deps.ts'

/** Constant time whatever the lengths: both sides are hashed first (timingSafeEqual needs equal lengths). */
export function sameSecret(expected: string | null | undefined, given: string | null | undefined): boolean {
  if (!expected || !given) return false
  const a = createHash('sha256').update(expected).digest()
  const b = createHash('sha256').update(given).digest()
  return timingSafeEqual(a, b)
}

export function keyedHash(keys: BitrixAppDeps['keys'], purpose: string, value: string): string {
  return createHmac('sha256', keys.deriveKey(purpose)).update(value).digest('hex')
}

/** How audit entries and receipts name a portal: a keyed hash of its member id, never its address (D5). */
export function portalRef(keys: BitrixAppDeps['keys'], memberId: string): string {
  return `portal:${keyedHash(keys, 'olchat portal ref v1', memberId).slice(0, 32)}`
}

export class EndpointError extends Error {
  override name = 'EndpointError'
}

/**
 * A portal's REST base `https://<host>/rest/` from an event's `client_endpoint` or a page's DOMAIN/PROTOCOL.
 * Plain http only with `allowHttpPortals` (emulators on loopback). @throws EndpointError
 */
export function portalEndpoint(
  source: { clientEndpoint: string } | { domain: string; protocol?: string },
  allowHttp: boolean,
): string {
  let url: URL
  try {
    url =
      'clientEndpoint' in source
        ? new URL(source.clientEndpoint)
        : new URL(`${source.protocol === '0' ? 'http' : 'https'}://${source.domain}/rest/`)
  } catch {
    throw new EndpointError('the portal address is not a URL')
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowHttp)) {
    throw new EndpointError('the portal must be reached over https://')
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new EndpointError('the portal address must be a plain URL')
  }
  const path = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`
  return `${url.protocol}//${url.host}${path}`
}

/** `host[:port]` of an endpoint URL. */
export function hostOf(endpoint: string): string {
  return new URL(endpoint).host
}

/** Bitrix24's OAuth servers (§3.1, pitfall 15). */
const OAUTH_HOSTS = new Set(['oauth.bitrix.info', 'oauth.bitrix24.tech'])

/**
 * The OAuth server a portal posted (`server_endpoint`). Refreshing sends the app's client secret there, so it
 * must be a Bitrix24 OAuth server or the portal's own host (on-premise) — never a third host a forged
 * install names. Any host is accepted with `allowHttpPortals` (emulators). @throws EndpointError
 */
export function oauthEndpoint(serverEndpoint: string, clientEndpoint: string, allowHttp: boolean): string {
  const normalized = portalEndpoint({ clientEndpoint: serverEndpoint }, allowHttp)
  const host = new URL(normalized).hostname
  if (allowHttp || OAUTH_HOSTS.has(host) || host === new URL(clientEndpoint).hostname) return normalized
  throw new EndpointError('server_endpoint is not a Bitrix24 OAuth server')
}
