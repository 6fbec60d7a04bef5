/**
 * @module The OAuth server listener (the emulator's `oauth.bitrix.info`, §3): `/oauth/token/` for the
 * `refresh_token` and `authorization_code` grants (GET query or POST form, §3.1), and `/rest/app.info` for
 * checking that a token belongs to the app and portal (§2.4).
 */
import type { Emulator } from './context.ts'
import { phpString } from './errors.ts'
import { BadBody, json, readParams } from './http-util.ts'
import type { TokenPair } from './tokens.ts'

/** §3.1 success body. `domain` is the OAuth server here, not the portal. */
export function tokenResponse(emu: Emulator, pair: TokenPair): Record<string, unknown> {
  const portal = emu.portals.get(pair.memberId)!
  const app = emu.app(pair.clientId)
  return {
    access_token: pair.accessToken,
    client_endpoint: portal.clientEndpoint,
    domain: emu.oauthHost,
    expires: Math.floor(pair.expiresAt / 1000),
    expires_in: Math.round((pair.expiresAt - pair.issuedAt) / 1000),
    member_id: pair.memberId,
    refresh_token: pair.refreshToken,
    scope: app.scope,
    server_endpoint: emu.serverEndpoint,
    status: portal.status,
    user_id: pair.userId,
  }
}

export async function handleOAuth(emu: Emulator, req: Request): Promise<Response> {
  const url = new URL(req.url)
  if (url.pathname === '/oauth/token/' || url.pathname === '/oauth/token') return tokenEndpoint(emu, req, url)
  if (/^\/rest\/app\.info(\.json)?\/?$/i.test(url.pathname)) return oauthAppInfo(emu, req, url)
  return json(404, { error: 'NOT_FOUND', error_description: 'Unknown OAuth server path' })
}

async function tokenEndpoint(emu: Emulator, req: Request, url: URL): Promise<Response> {
  emu.stats.oauthRequests++
  // §3.3: error codes are documented, their HTTP status is not; 400 for all (402 for PAYMENT_REQUIRED).
  const fail = (code: string, description: string, status = 400) => {
    emu.stats.oauthError(code)
    return json(status, { error: code, error_description: description })
  }
  let p: Record<string, unknown>
  try {
    p = await readParams(req, url)
  } catch (e) {
    return fail('invalid_request', e instanceof BadBody ? e.message : 'Unreadable request')
  }
  const grant = phpString(p.grant_type)
  if (grant === 'refresh_token') emu.stats.oauthRefreshes++
  if (grant !== 'refresh_token' && grant !== 'authorization_code') {
    return fail('invalid_request', 'grant_type must be refresh_token or authorization_code')
  }
  const secretGiven = phpString(p.client_secret)
  const clientId = phpString(p.client_id)
  const subject = grant === 'refresh_token' ? phpString(p.refresh_token) : phpString(p.code)
  // Count the refresh against its portal as soon as the token names one (single-flight checks read this).
  const pairForCount = grant === 'refresh_token' ? emu.tokens.findRefresh(subject) : undefined
  if (pairForCount) emu.stats.portal(pairForCount.memberId).oauthRefreshes++
  if (!clientId || !secretGiven || !subject) {
    return fail('invalid_request', 'client_id, client_secret and the token or code are required')
  }
  const app = emu.apps.get(clientId)
  if (!app || app.clientSecret !== secretGiven) return fail('invalid_client', 'Invalid client id or secret')

  if (grant === 'authorization_code') {
    const code = emu.tokens.findCode(subject)
    if (!code || code.used || code.expiresAt <= Date.now() || code.clientId !== clientId) {
      return fail('invalid_grant', 'Invalid or expired authorization code')
    }
    code.used = true
    const portal = emu.portals.get(code.memberId)
    if (!portal?.installation(clientId)) return fail('invalid_client', 'Application is not installed')
    if (portal.paymentRequired) return fail('PAYMENT_REQUIRED', 'Payment required', 402)
    emu.stats.oauthCodeExchanges++
    return json(200, tokenResponse(emu, emu.tokens.issue(code.memberId, clientId, code.userId)))
  }

  const pair = pairForCount
  if (!pair || pair.clientId !== clientId || pair.refresh === 'used' || pair.refresh === 'dead') {
    return fail('invalid_grant', 'Invalid refresh token')
  }
  if (pair.refreshExpiresAt <= Date.now()) return fail('invalid_grant', 'Refresh token expired')
  // §3.3: invalid_client covers "app not installed" (uninstall revoked the pair).
  if (pair.refresh === 'revoked') return fail('invalid_client', 'Application is not installed')
  const portal = emu.portals.get(pair.memberId)!
  if (portal.paymentRequired) return fail('PAYMENT_REQUIRED', 'Payment required', 402)
  const fresh = emu.tokens.rotate(pair)
  emu.stats.oauthRefreshesOk++
  return json(200, tokenResponse(emu, fresh))
}

/**
 * §2.4: `<server_endpoint>app.info` confirms a token's app and portal. The reference does not give the
 * answer's shape; this one (`client_id`, `install.{installed,domain,member_id,…}`) follows what third-party
 * verifiers read.
 */
async function oauthAppInfo(emu: Emulator, req: Request, url: URL): Promise<Response> {
  let p: Record<string, unknown>
  try {
    p = await readParams(req, url)
  } catch {
    p = {}
  }
  const check = emu.tokens.checkAccess(phpString(p.auth))
  if (!check.ok) {
    const description =
      check.error === 'expired_token'
        ? 'The access token provided has expired.'
        : 'The access token provided is invalid.'
    return json(401, { error: check.error, error_description: description })
  }
  const { pair } = check
  const portal = emu.portals.get(pair.memberId)!
  const app = emu.app(pair.clientId)
  const inst = portal.installation(pair.clientId)
  return json(200, {
    result: {
      scope: app.scope,
      client_id: app.clientId,
      expires: Math.floor(pair.expiresAt / 1000),
      install: {
        installed: inst?.finished ?? false,
        version: inst?.version ?? app.version,
        status: portal.status,
        domain: portal.domain,
        member_id: portal.memberId,
        client_endpoint: portal.clientEndpoint,
      },
      user_id: pair.userId,
    },
  })
}
