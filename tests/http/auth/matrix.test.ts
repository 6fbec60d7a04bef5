/**
 * P1: the route × caller matrix, generated from the route declarations (`ADMIN_ROUTES`) and the role table:
 * every route is called by every kind of caller, aimed at portal A's resources, and the expected status
 * follows from the route's permission and scope and the caller's role and portal — never written per cell.
 * Bitrix24 users hold real sessions: their portal (the emulator) confirmed them through the exchange route.
 * Cross-portal calls must fail with 403/404 and an error body only, never data.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Hono } from 'hono'
import { checkScope, createGuard } from '../../../src/http/admin/access.ts'
import type { AdminEnv } from '../../../src/http/admin/deps.ts'
import { adminErrorHandler } from '../../../src/http/admin/errors.ts'
import {
  ADMIN_ROUTES,
  assertDeclared,
  createToken,
  generateToken,
  PERMISSIONS,
  ROLE_PERMISSIONS,
  type RouteSpec,
} from '../../../src/http/admin/index.ts'
import { callerGrants } from '../../../src/http/auth/roles.ts'
import { json } from '../admin/harness.ts'
import { ADMIN_USER, type AuthHarness, createAuthHarness, PLAIN_USER } from './harness.ts'

let h: AuthHarness
let accountId: string
let lineId: string
let deadLetterId: string

/** Who calls: a credential, and what it stands for (null: it must not authenticate at all). */
interface Caller {
  token?: string
  as: { role: string; portal: 'A' | 'B' | null } | null
}

const CALLERS = [
  'support',
  'portal-admin of A',
  'portal-viewer of A',
  'portal-admin of B',
  'no credentials',
  'expired session',
  'forged signature',
  'support token of B',
  'token of an unknown role',
  'portal-admin token without a portal',
] as const
type CallerName = (typeof CALLERS)[number]
const callers = {} as Record<CallerName, Caller>

/** The viewer's session with its role raised to portal-admin, signature kept: an escalation attempt. */
function forge(token: string): string {
  const [prefix, payload, signature] = token.split('.')
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'))
  const raised = Buffer.from(JSON.stringify({ ...claims, role: 'portal-admin' })).toString('base64url')
  return `${prefix}.${raised}.${signature}`
}

beforeAll(async () => {
  h = await createAuthHarness()
  accountId = (await h.repos.accounts.create({ portalId: h.portalA, messenger: 'sandbox' })).id
  lineId = (await h.repos.lines.upsert({ portalId: h.portalA, connectorId: 'olchat_sandbox', lineId: '1' }))
    .id
  const [row] = await h.db.sql<{ id: string }[]>`
    insert into deliveries (account_id, direction, kind, idempotency_key, status, finished_at, last_error)
    values (${accountId}, 'to_portal', 'message', 'matrix-1', 'dead', now(), 'CHAT_GONE')
    returning id`
  deadLetterId = row!.id

  const viewerA = await h.sessionOf('A', PLAIN_USER)
  // A session issued an hour ago has run out (15 minutes).
  h.clock.offsetMs = -60 * 60_000
  const expired = await h.sessionOf('A', ADMIN_USER)
  h.clock.offsetMs = 0
  const tokenOf = async (role: string, portalId: string | null) => {
    const token = generateToken()
    await createToken(h.db.sql, { token, role, portalId })
    return token
  }
  Object.assign(callers, {
    support: { token: h.tokens.support, as: { role: 'support', portal: null } },
    'portal-admin of A': {
      token: await h.sessionOf('A', ADMIN_USER),
      as: { role: 'portal-admin', portal: 'A' },
    },
    'portal-viewer of A': { token: viewerA, as: { role: 'portal-viewer', portal: 'A' } },
    'portal-admin of B': {
      token: await h.sessionOf('B', ADMIN_USER),
      as: { role: 'portal-admin', portal: 'B' },
    },
    'no credentials': { as: null },
    'expired session': { token: expired, as: null },
    'forged signature': { token: forge(viewerA), as: null },
    'support token of B': { token: h.tokens.otherPortal, as: { role: 'support', portal: 'B' } },
    'token of an unknown role': { token: h.tokens.unknownRole, as: { role: 'owner', portal: null } },
    'portal-admin token without a portal': {
      token: await tokenOf('portal-admin', null),
      as: { role: 'portal-admin', portal: null },
    },
  } satisfies Record<CallerName, Caller>)
})
afterAll(() => h.close())

/** A login of portal A, opened with the support token. */
async function newLogin(): Promise<string> {
  const res = await h.call('POST', '/api/v1/accounts', h.tokens.support, {
    portalId: h.portalA,
    messenger: 'sandbox',
  })
  return (await json(res)).loginId
}

/** An account of portal A whose session was revoked: it may log in again. */
async function accountNeedingLogin(): Promise<string> {
  const account = await h.repos.accounts.create({ portalId: h.portalA, messenger: 'sandbox' })
  await h.repos.accounts.setHealth(account.id, 'needs_login')
  return account.id
}

/** A token of portal A to revoke. */
async function newTokenId(): Promise<string> {
  return createToken(h.db.sql, { token: generateToken(), role: 'portal-viewer', portalId: h.portalA })
}

/** One request per route, aimed at portal A, and the statuses that mean "it reached the handler and ran". */
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
  'POST /accounts/:id/employee': {
    run: (t) => h.call('POST', `/api/v1/accounts/${accountId}/employee`, t, { employeeId: '27' }),
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
  'POST /accounts/:id/login': {
    run: async (t) => h.call('POST', `/api/v1/accounts/${await accountNeedingLogin()}/login`, t, {}),
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
    // Its body was dropped when it died: refused, but reached.
    allowed: [409],
  },
  'GET /status': { run: (t) => h.call('GET', `/api/v1/status?portal=${h.portalA}`, t), allowed: [200] },
  'GET /tokens': { run: (t) => h.call('GET', `/api/v1/tokens?portal=${h.portalA}`, t), allowed: [200] },
  'POST /tokens': {
    run: (t) => h.call('POST', '/api/v1/tokens', t, { role: 'portal-viewer', portalId: h.portalA }),
    allowed: [201],
  },
  'DELETE /tokens/:id': {
    run: async (t) => h.call('DELETE', `/api/v1/tokens/${await newTokenId()}`, t),
    allowed: [204],
  },
  'POST /session/bitrix': {
    // Public: the body is the credential; whatever the header says, a fresh page auth is exchanged.
    run: async (t) => {
      const auth = await h.openPage('A', PLAIN_USER)
      return h.call('POST', '/api/v1/session/bitrix', t, auth)
    },
    allowed: [201],
  },
  'GET /session': { run: (t) => h.call('GET', '/api/v1/session', t), allowed: [200] },
  'POST /access-requests': {
    run: (t) => h.call('POST', '/api/v1/access-requests', t, { portal: h.portalA }),
    allowed: [200],
  },
  'GET /openapi.json': { run: (t) => h.call('GET', '/api/v1/openapi.json', t), allowed: [200] },
}

const routeKey = (route: RouteSpec) => `${route.method} ${route.path}`

function expected(route: RouteSpec, caller: Caller): 'allowed' | 401 | 403 {
  if (route.permission === 'public') return 'allowed'
  if (caller.as === null) return 401
  const portalId = caller.as.portal === null ? null : caller.as.portal === 'A' ? 'portal A' : 'portal B'
  if (!callerGrants(ROLE_PERMISSIONS, { role: caller.as.role, portalId }, route.permission)) return 403
  if (route.scope === 'portal' && caller.as.portal === 'B') return 403
  return 'allowed'
}

describe('P1: declarations', () => {
  test('P1: every route declares a known permission and a portal scope', () => {
    for (const route of ADMIN_ROUTES) {
      expect([...PERMISSIONS, 'public']).toContain(route.permission)
      expect(['public', 'caller', 'portal']).toContain(route.scope)
      expect(route.permission === 'public').toBe(route.scope === 'public')
    }
  })

  test('P1: a route mounted without a declaration stops the build', () => {
    const undeclared = new Hono().get('/api/v1/secret', (c) => c.text('data'))
    expect(() => assertDeclared(undeclared, ADMIN_ROUTES)).toThrow('GET /api/v1/secret has no RouteSpec')
    const declared = new Hono().get('/api/v1/session', (c) => c.text('me'))
    expect(() => assertDeclared(declared, ADMIN_ROUTES)).not.toThrow()
  })

  test('P1: a public permission with a portal scope is refused', () => {
    const mixed: RouteSpec = {
      method: 'GET',
      path: '/session',
      permission: 'public',
      scope: 'portal',
      summary: 'x',
      tag: 'x',
      responses: {},
    }
    expect(() => assertDeclared(new Hono(), [mixed])).toThrow('permission public with scope portal')
  })

  test('P1: the matrix has a request for every declared route', () => {
    expect(Object.keys(requests).sort()).toEqual(ADMIN_ROUTES.map(routeKey).sort())
  })

  test('P1: a portal-scoped handler that never checks the portal answers 500, never its data', async () => {
    const spec: RouteSpec = {
      method: 'GET',
      path: '/leaky',
      permission: 'status:read',
      scope: 'portal',
      summary: 'x',
      tag: 'x',
      responses: {},
    }
    const guard = createGuard(h.deps)
    const app = new Hono<AdminEnv>()
    app.onError(adminErrorHandler(h.deps.log))
    app.get('/leaky', guard(spec), (c) => c.json({ secret: 'portal A data' }))
    app.get('/checked', guard({ ...spec, path: '/checked' }), async (c) => {
      await checkScope(h.deps, c, h.portalA)
      return c.json({ ok: true })
    })
    const headers = { Authorization: `Bearer ${callers['portal-admin of B'].token}` }
    const leaky = await app.request('/leaky', { headers })
    expect(leaky.status).toBe(500)
    expect(await leaky.text()).not.toContain('portal A data')
    expect((await app.request('/checked', { headers })).status).toBe(403)
    const own = { Authorization: `Bearer ${callers['portal-viewer of A'].token}` }
    expect((await app.request('/checked', { headers: own })).status).toBe(200)
  })
})

describe('P1: route × caller matrix', () => {
  for (const route of ADMIN_ROUTES) {
    for (const name of CALLERS) {
      test(`P1: ${routeKey(route)} as ${name}`, async () => {
        const caller = callers[name]
        const want = expected(route, caller)
        const request = requests[routeKey(route)]!
        const res = await request.run(caller.token)
        if (want === 'allowed') {
          expect(request.allowed).toContain(res.status)
          return
        }
        expect(res.status).toBe(want)
        // A refusal carries the error and nothing else: no data of portal A.
        const body = await json(res)
        expect(Object.keys(body).sort()).toEqual(['error', 'message'])
        expect(JSON.stringify(body)).not.toContain(h.portalA)
        expect(JSON.stringify(body)).not.toContain(accountId)
      })
    }
  }
})

describe('P1: what the matrix left in the audit log (P2)', () => {
  test('P1: failed authentications and cross-portal refusals are audited with who and why', async () => {
    const rows = await h.db.sql<
      { action: string; actor: string; actorRole: string | null; details: string }[]
    >`
      select action, actor, actor_role, details::text as details from audit_log
      where action in ('auth.failed', 'auth.denied')`
    const reasons = rows.filter((r) => r.action === 'auth.failed').map((r) => JSON.parse(r.details).reason)
    expect(reasons).toEqual(expect.arrayContaining(['session_expired', 'bad_signature']))
    const crossPortal = rows.filter(
      (r) => r.action === 'auth.denied' && JSON.parse(r.details).reason === 'other portal',
    )
    expect(crossPortal.map((r) => `${r.actorRole} ${r.actor.split(':')[0]}`)).toEqual(
      expect.arrayContaining(['portal-admin bitrix24-user', 'support api-token']),
    )
    for (const row of crossPortal) expect(JSON.parse(row.details).actorPortal).toMatch(/^portal:/)
    expect((await h.repos.auditLog.verifyChain()).ok).toBe(true)
  })
})
