/**
 * P1: Bitrix24 users authenticate through their portal. `POST /api/v1/session/bitrix` exchanges what the app
 * page received (the emulator opens it for a user, §2.2) for a short-lived signed session; the portal decides
 * who the user is and whether they are an admin, never the browser. Sessions expire, die with their portal,
 * and cannot be altered. Exchanges and what sessions do are audited (P2).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { portalRef } from '../../../src/bitrix/app/security.ts'
import { generateKey, KeyRing } from '../../../src/crypto/key-ring.ts'
import { signSessionToken } from '../../../src/http/auth/session-token.ts'
import { secrets } from '../../storage/fixtures.ts'
import { freePort } from '../../support/free-port.ts'
import { json, type Loose } from '../admin/harness.ts'
import { ADMIN_USER, type AuthHarness, createAuthHarness, PLAIN_USER } from './harness.ts'

let h: AuthHarness

/** The hono app behind `h.app`, served as `src/main.ts` serves it. */
interface Fetcher {
  fetch(request: Request, env: { server: unknown }): Response | Promise<Response>
}

beforeAll(async () => {
  h = await createAuthHarness()
})
afterAll(() => h.close())

const methodCalls = (method: string) =>
  ((h.emulator.stats() as { byMethod: Record<string, number> }).byMethod[method] ?? 0) as number

async function auditRows(action: string): Promise<Loose[]> {
  const rows = await h.db.sql<Loose[]>`
    select actor, actor_role, portal_ref, target, source_ip, details::text as details from audit_log
    where action = ${action} order by seq`
  return rows.map((row) => ({ ...row, details: JSON.parse(row.details) }))
}

describe('P1: exchanging the placement auth', () => {
  test('P1: a Bitrix24 admin gets a portal-admin session, any other user a portal-viewer one', async () => {
    const before = Date.now()
    const admin = await h.exchange(await h.openPage('A', ADMIN_USER))
    expect(admin.status).toBe(201)
    const session = await json(admin)
    expect(session).toMatchObject({
      tokenType: 'Bearer',
      role: 'portal-admin',
      portalId: h.portalA,
      userId: String(ADMIN_USER),
    })
    expect(session.token).toStartWith('ols1.')
    const ttl = Date.parse(session.expiresAt) - before
    expect(ttl).toBeGreaterThan(14 * 60_000)
    expect(ttl).toBeLessThanOrEqual(15 * 60_000 + 1000)
    expect(session.permissions).toContain('accounts:write')
    expect(session.permissions).not.toContain('tokens:manage')

    const viewer = await json(await h.exchange(await h.openPage('A', PLAIN_USER)))
    expect(viewer).toMatchObject({ role: 'portal-viewer', userId: String(PLAIN_USER) })
    expect(viewer.permissions.sort()).toEqual(['session:read', 'status:read'])

    const me = await json(await h.call('GET', '/api/v1/session', viewer.token))
    expect(me).toMatchObject({
      via: 'bitrix-session',
      role: 'portal-viewer',
      portalId: h.portalA,
      userId: String(PLAIN_USER),
      expiresAt: viewer.expiresAt,
    })
    // The viewer sees status, not accounts (with names), and changes nothing.
    expect((await h.call('GET', '/api/v1/status', viewer.token)).status).toBe(200)
    expect((await h.call('GET', '/api/v1/accounts', viewer.token)).status).toBe(403)
    // An admin session lists its own portal without naming it.
    expect((await h.call('GET', '/api/v1/accounts', session.token)).status).toBe(200)
  })

  test('P1: the role follows the portal: an admin demoted in Bitrix24 gets a viewer session next time', async () => {
    await h.portal.A.addUser({ id: 901, name: 'Temp', admin: true })
    expect((await json(await h.exchange(await h.openPage('A', 901)))).role).toBe('portal-admin')
    await h.portal.A.addUser({ id: 901, name: 'Temp', admin: false })
    expect((await json(await h.exchange(await h.openPage('A', 901)))).role).toBe('portal-viewer')
  })

  test("P1: the browser's claims are not trusted", async () => {
    const pageA = await h.openPage('A', ADMIN_USER)
    const pageB = await h.openPage('B', ADMIN_USER)
    const calls = methodCalls('user.admin')
    const refused = async (claim: Record<string, unknown>) => {
      const res = await h.call('POST', '/api/v1/session/bitrix', undefined, claim)
      return { status: res.status, body: await json(res) }
    }
    // Another application token: refused before the portal is asked.
    const wrongApp = await refused({ ...pageA, applicationToken: pageB.applicationToken })
    expect(wrongApp).toEqual({
      status: 401,
      body: { error: 'bitrix_auth_failed', message: expect.any(String) },
    })
    expect(await refused({ ...pageA, memberId: 'no-such-member' })).toMatchObject({ status: 401 })
    // DOMAIN of another portal: the stored address is what counts, and the claim must agree with it.
    expect(await refused({ ...pageA, domain: pageB.domain })).toMatchObject({ status: 401 })
    expect(methodCalls('user.admin')).toBe(calls)
    // Portal B's user token presented as portal A's: portal A does not know it.
    expect(await refused({ ...pageA, authId: pageB.authId })).toMatchObject({ status: 401 })
    expect(methodCalls('user.admin')).toBe(calls + 1)
    // An access token that has expired on the portal.
    const stale = await h.openPage('A', ADMIN_USER)
    await h.portal.A.expireAccessTokens({ userId: ADMIN_USER })
    expect(await refused({ ...stale })).toMatchObject({ status: 401 })
    // Malformed bodies never reach the portal.
    const bad = await refused({ memberId: pageA.memberId, authId: 'x y' })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toBe('invalid_request')

    const reasons = (await auditRows('auth.failed')).map((row) => row.details.reason)
    expect(reasons).toEqual(
      expect.arrayContaining(['application_token', 'unknown_portal', 'domain_mismatch', 'token_refused']),
    )
  })

  test('P1: a portal that cannot be reached answers 503 with Retry-After, not a session', async () => {
    const port = await freePort()
    await h.repos.portals.upsert({
      memberId: 'member-unreachable',
      domain: `127.0.0.1:${port}`,
      clientEndpoint: `http://127.0.0.1:${port}/rest/`,
      applicationToken: 'unreachable-app-token',
    })
    const res = await h.call('POST', '/api/v1/session/bitrix', undefined, {
      memberId: 'member-unreachable',
      authId: 'some-access-token',
      applicationToken: 'unreachable-app-token',
    })
    expect(res.status).toBe(503)
    expect(res.headers.get('Retry-After')).toBe('5')
    expect((await json(res)).error).toBe('portal_unavailable')
  })

  test('P2: the exchange is audited with the user, role and portal, never the AUTH_ID', async () => {
    const page = await h.openPage('B', ADMIN_USER)
    const session = await json(await h.exchange(page))
    const created = await auditRows('session.created')
    const entry = created.at(-1)!
    expect(entry).toMatchObject({
      actor: `bitrix24-user:${ADMIN_USER}`,
      actorRole: 'portal-admin',
      portalRef: portalRef(secrets, page.memberId),
    })
    expect(entry.target).toMatch(/^session:/)
    expect(entry.details.expiresAt).toBe(session.expiresAt)
    const everything = await h.db.sql<{ row: string }[]>`select t::text as row from audit_log t`
    const text = everything.map((r) => r.row).join('\n')
    expect(text).not.toContain(page.authId)
    expect(text).not.toContain(page.applicationToken)
    expect(text).not.toContain(page.memberId)
    expect(h.logged.join('\n')).not.toContain(page.authId)
  })

  test('P2: over real HTTP the audit entry says where the exchange came from', async () => {
    const server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (request, srv) => (h.app as unknown as Fetcher).fetch(request, { server: srv }),
    })
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/session/bitrix`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(await h.openPage('A', PLAIN_USER)),
      })
      expect(res.status).toBe(201)
    } finally {
      await server.stop(true)
    }
    expect((await auditRows('session.created')).at(-1)!.sourceIp).toBe('127.0.0.1')
  })

  test('P2: what a session does is audited as its Bitrix24 user, role, portal and session', async () => {
    const account = await h.repos.accounts.create({ portalId: h.portalA, messenger: 'sandbox' })
    const page = await h.openPage('A', ADMIN_USER)
    const session = await json(await h.exchange(page))
    const res = await h.call('POST', `/api/v1/accounts/${account.id}/disconnect`, session.token)
    expect(res.status).toBe(200)
    const entry = (await auditRows('account.disconnected')).at(-1)!
    const sessionId = (await auditRows('session.created')).at(-1)!.target.slice('session:'.length)
    expect(entry).toMatchObject({
      actor: `bitrix24-user:${ADMIN_USER}`,
      actorRole: 'portal-admin',
      target: `account:${account.id}`,
      portalRef: portalRef(secrets, page.memberId),
    })
    expect(entry.details).toMatchObject({
      actorPortal: portalRef(secrets, page.memberId),
      session: sessionId,
    })
    expect((await h.repos.auditLog.verifyChain()).ok).toBe(true)
  })
})

describe('P1: sessions end', () => {
  test('P1: after its lifetime a session is refused as session_expired', async () => {
    const token = await h.sessionOf('A', PLAIN_USER)
    expect((await h.call('GET', '/api/v1/session', token)).status).toBe(200)
    h.clock.offsetMs = 15 * 60_000 + 1000
    try {
      const res = await h.call('GET', '/api/v1/session', token)
      expect(res.status).toBe(401)
      expect((await json(res)).error).toBe('session_expired')
    } finally {
      h.clock.offsetMs = 0
    }
  })

  test("P1: a session dies with its portal's installation", async () => {
    const token = await h.sessionOf('B', ADMIN_USER)
    await h.repos.portals.setStatus(h.portalB, 'uninstalled')
    try {
      const res = await h.call('GET', '/api/v1/session', token)
      expect(res.status).toBe(401)
      expect((await json(res)).error).toBe('session_revoked')
      // Nor can a new one be made for it.
      expect((await h.exchange(await h.openPage('B', ADMIN_USER))).status).toBe(401)
    } finally {
      await h.repos.portals.setStatus(h.portalB, 'active')
    }
  })

  test('P1: an altered session or one signed with another key is refused', async () => {
    const token = await h.sessionOf('A', PLAIN_USER)
    const [prefix, payload, signature] = token.split('.')
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'))
    const moved = Buffer.from(JSON.stringify({ ...claims, portalId: h.portalB })).toString('base64url')
    const otherKey = KeyRing.fromText(`k9:${generateKey()}`)
    const forged = [
      `${prefix}.${moved}.${signature}`,
      signSessionToken(otherKey, { ...claims, role: 'support' }),
      `${prefix}.${payload}`,
      `${token}x`,
    ]
    for (const bad of forged) {
      const res = await h.call('GET', '/api/v1/session', bad)
      expect(res.status).toBe(401)
      expect((await json(res)).error).toBe('unauthorized')
    }
    // The same claims signed with our key work: the key is the only thing that made the difference.
    expect((await h.call('GET', '/api/v1/session', signSessionToken(secrets, claims))).status).toBe(200)
  })
})
