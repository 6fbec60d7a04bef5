/**
 * Authentication and authorisation of the admin API (PRIVACY P1/P2): tokens stored hashed, the
 * OLCHAT_ADMIN_TOKEN upsert, 401/403, and the whole route × principal matrix — including a token of another
 * portal (tenant isolation) and roles that lack permissions.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ADMIN_ROUTES, ensureAdminToken, hashToken } from '../../../src/http/admin/index.ts'
import { auditActions, createHarness, type Harness, json } from './harness.ts'

let h: Harness
let accountId: string
let lineId: string
let deadLetterId: string

beforeAll(async () => {
  h = await createHarness()
  accountId = (await h.repos.accounts.create({ portalId: h.portalA, messenger: 'sandbox' })).id
  lineId = (await h.repos.lines.upsert({ portalId: h.portalA, connectorId: 'olchat_sandbox', lineId: '1' }))
    .id
  const [row] = await h.db.sql<{ id: string }[]>`
    insert into deliveries (account_id, direction, kind, idempotency_key, status, finished_at, last_error)
    values (${accountId}, 'to_portal', 'message', 'auth-test-1', 'dead', now(), 'CHAT_GONE')
    returning id`
  deadLetterId = row!.id
})
afterAll(() => h.close())

type Principal = 'none' | 'invalid' | 'support' | 'otherPortal' | 'readOnly' | 'unknownRole'
const PRINCIPALS: Principal[] = ['none', 'invalid', 'support', 'otherPortal', 'readOnly', 'unknownRole']

function tokenOf(principal: Principal): string | undefined {
  if (principal === 'none') return undefined
  if (principal === 'invalid') return 'x'.repeat(40)
  return h.tokens[principal]
}

/** A login of portal A, opened with the support token. */
async function newLogin(): Promise<string> {
  const res = await h.call('POST', '/api/v1/accounts', h.tokens.support, {
    portalId: h.portalA,
    messenger: 'sandbox',
  })
  return (await json(res)).loginId
}

/** One request per route, aimed at portal A's resources, and the statuses that mean "allowed". */
const requests: Record<string, { run(token?: string): Promise<Response>; allowed: number[] }> = {
  'GET /accounts': {
    run: (t) => h.call('GET', `/api/v1/accounts?portal=${h.portalA}`, t),
    allowed: [200],
  },
  'GET /accounts/:id': { run: (t) => h.call('GET', `/api/v1/accounts/${accountId}`, t), allowed: [200] },
  'POST /accounts/:id/line': {
    run: (t) => h.call('POST', `/api/v1/accounts/${accountId}/line`, t, { lineId }),
    allowed: [200],
  },
  'POST /accounts/:id/disconnect': {
    run: (t) => h.call('POST', `/api/v1/accounts/${accountId}/disconnect`, t),
    allowed: [200],
  },
  'POST /accounts': {
    run: (t) => h.call('POST', '/api/v1/accounts', t, { portalId: h.portalA, messenger: 'sandbox' }),
    allowed: [201],
  },
  'POST /logins/:loginId/steps': {
    run: async (t) =>
      h.call('POST', `/api/v1/logins/${await newLogin()}/steps`, t, { input: { phone: 'x' } }),
    // The phone is refused by the connector: reaching it is what "allowed" means here.
    allowed: [422],
  },
  'DELETE /logins/:loginId': {
    run: async (t) => h.call('DELETE', `/api/v1/logins/${await newLogin()}`, t),
    allowed: [204],
  },
  'GET /dead-letters': {
    run: (t) => h.call('GET', `/api/v1/dead-letters?account=${accountId}`, t),
    allowed: [200],
  },
  'POST /dead-letters/:id/retry': {
    run: (t) => h.call('POST', `/api/v1/dead-letters/${deadLetterId}/retry`, t),
    // Its body was dropped when it died (the deliveries table allows nothing else): refused, but reached.
    allowed: [409],
  },
  'GET /openapi.json': { run: (t) => h.call('GET', '/api/v1/openapi.json', t), allowed: [200] },
}

function expected(route: (typeof ADMIN_ROUTES)[number], principal: Principal): 'allowed' | 401 | 403 {
  if (route.permission === 'public') return 'allowed'
  if (principal === 'none' || principal === 'invalid') return 401
  if (principal === 'support') return 'allowed'
  if (principal === 'readOnly') return route.permission.endsWith(':read') ? 'allowed' : 403
  return 403 // another portal's token, or a role the table does not know
}

describe('tokens', () => {
  test('OLCHAT_ADMIN_TOKEN is stored as its sha256 only; a new value replaces the old one', async () => {
    const rows = await h.db.sql<{ tokenHash: Buffer; role: string; portalId: string | null }[]>`
      select token_hash, role, portal_id from api_tokens where name = 'OLCHAT_ADMIN_TOKEN'`
    expect(rows).toHaveLength(1)
    expect(rows[0]!.tokenHash.equals(hashToken(h.tokens.support))).toBe(true)
    expect(rows[0]).toMatchObject({ role: 'support', portalId: null })
    const raw = await h.db.sql<{ row: string }[]>`select t::text as row from api_tokens t`
    for (const token of Object.values(h.tokens)) {
      expect(raw.map((r) => r.row).join()).not.toContain(token)
    }

    const next = 'n'.repeat(32)
    const id = await ensureAdminToken(h.db.sql, next)
    expect(await ensureAdminToken(h.db.sql, next)).toBe(id)
    expect((await h.call('GET', '/api/v1/openapi.json')).status).toBe(200)
    const old = await h.call('GET', `/api/v1/accounts?portal=${h.portalA}`, h.tokens.support)
    expect(old.status).toBe(401)
    expect((await h.call('GET', `/api/v1/accounts?portal=${h.portalA}`, next)).status).toBe(200)
    // Unsetting the variable removes the token.
    expect(await ensureAdminToken(h.db.sql, undefined)).toBeNull()
    expect((await h.call('GET', `/api/v1/accounts?portal=${h.portalA}`, next)).status).toBe(401)
    await ensureAdminToken(h.db.sql, h.tokens.support)
  })

  test('401 names the scheme; a wrong token is audited, a missing one is not', async () => {
    await h.db.sql`delete from audit_log`
    const missing = await h.call('GET', '/api/v1/accounts')
    expect(missing.status).toBe(401)
    expect(missing.headers.get('WWW-Authenticate')).toContain('Bearer')
    expect(await json(missing)).toMatchObject({ error: 'unauthorized' })
    expect(await auditActions(h)).toEqual([])
    const wrong = await h.app.request('/api/v1/accounts', { headers: { Authorization: 'Basic abc' } })
    expect(wrong.status).toBe(401)
    expect(await auditActions(h)).toEqual(['auth.failed'])
  })

  test('a used token gets last_used_at', async () => {
    await h.call('GET', `/api/v1/accounts?portal=${h.portalA}`, h.tokens.readOnly)
    const [row] = await h.db.sql<{ lastUsedAt: Date | null }[]>`
      select last_used_at from api_tokens where role = 'reader'`
    expect(row!.lastUsedAt).toBeInstanceOf(Date)
  })
})

describe('route × principal matrix', () => {
  test('every declared route has a request in this matrix', () => {
    expect(Object.keys(requests).sort()).toEqual(ADMIN_ROUTES.map((r) => `${r.method} ${r.path}`).sort())
  })

  for (const route of ADMIN_ROUTES) {
    for (const principal of PRINCIPALS) {
      const want = expected(route, principal)
      test(`${route.method} ${route.path} as ${principal} → ${want}`, async () => {
        const request = requests[`${route.method} ${route.path}`]!
        const res = await request.run(tokenOf(principal))
        if (want === 'allowed') expect(request.allowed).toContain(res.status)
        else expect(res.status).toBe(want)
      })
    }
  }

  test('refusals are audited as auth.denied', async () => {
    expect(await auditActions(h)).toContain('auth.denied')
  })
})

describe('tenant isolation', () => {
  test("a portal-scoped token lists its own portal by default and never another's", async () => {
    const own = await h.repos.accounts.create({ portalId: h.portalB, messenger: 'sandbox' })
    const res = await h.call('GET', '/api/v1/accounts', h.tokens.otherPortal)
    expect(res.status).toBe(200)
    expect((await json(res)).accounts.map((a: { id: string }) => a.id)).toEqual([own.id])
    const dead = await json(await h.call('GET', '/api/v1/dead-letters', h.tokens.otherPortal))
    expect(dead.deadLetters).toEqual([])
    const foreign = await h.call('GET', `/api/v1/accounts?portal=${h.portalA}`, h.tokens.otherPortal)
    expect(foreign.status).toBe(403)
  })

  test('an unscoped support token must name the portal', async () => {
    const res = await h.call('GET', '/api/v1/accounts', h.tokens.support)
    expect(res.status).toBe(400)
    expect((await json(res)).error).toBe('portal_required')
  })
})
