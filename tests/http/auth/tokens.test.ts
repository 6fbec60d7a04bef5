/**
 * P1/P2: API tokens are how roles are granted to machines and support staff. Support creates them (with a
 * role and optionally a portal), sees them without their values, revokes them; each change is audited in the
 * same transaction as the change itself.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { hashToken } from '../../../src/http/admin/index.ts'
import { auditActions, createHarness, type Harness, json } from '../admin/harness.ts'

let h: Harness

beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

describe('P1: API tokens', () => {
  test('P1: support grants a portal-admin token of portal A: it works there and nowhere else', async () => {
    const res = await h.call('POST', '/api/v1/tokens', h.tokens.support, {
      role: 'portal-admin',
      portalId: h.portalA,
      name: 'crm sync',
    })
    expect(res.status).toBe(201)
    const created = await json(res)
    expect(created).toMatchObject({ role: 'portal-admin', portalId: h.portalA, name: 'crm sync' })
    const [row] = await h.db.sql<{ tokenHash: Buffer }[]>`
      select token_hash from api_tokens where id = ${created.id}`
    expect(row!.tokenHash.equals(hashToken(created.token))).toBe(true)

    expect((await h.call('GET', '/api/v1/accounts', created.token)).status).toBe(200)
    expect((await h.call('GET', `/api/v1/accounts?portal=${h.portalB}`, created.token)).status).toBe(403)
    expect((await h.call('GET', '/api/v1/tokens', created.token)).status).toBe(403)
    const me = await json(await h.call('GET', '/api/v1/session', created.token))
    expect(me).toMatchObject({ via: 'api-token', role: 'portal-admin', portalId: h.portalA })

    const list = await json(await h.call('GET', `/api/v1/tokens?portal=${h.portalA}`, h.tokens.support))
    expect(list.tokens.map((t: { id: string }) => t.id)).toEqual([created.id])
    expect(JSON.stringify(list)).not.toContain(created.token)

    const revoked = await h.call('DELETE', `/api/v1/tokens/${created.id}`, h.tokens.support)
    expect(revoked.status).toBe(204)
    expect((await h.call('GET', '/api/v1/accounts', created.token)).status).toBe(401)
    expect(await auditActions(h)).toEqual(expect.arrayContaining(['token.created', 'token.revoked']))
  })

  test('P1: roles are checked: unknown roles and portal roles without a portal are refused', async () => {
    const unknown = await h.call('POST', '/api/v1/tokens', h.tokens.support, { role: 'owner' })
    expect(unknown.status).toBe(422)
    expect((await json(unknown)).error).toBe('unknown_role')
    const unscoped = await h.call('POST', '/api/v1/tokens', h.tokens.support, { role: 'portal-viewer' })
    expect(unscoped.status).toBe(422)
    expect((await json(unscoped)).error).toBe('portal_required')
    const missing = await h.call('POST', '/api/v1/tokens', h.tokens.support, {
      role: 'portal-viewer',
      portalId: '00000000-0000-4000-8000-000000000000',
    })
    expect(missing.status).toBe(404)
    const reserved = await h.call('POST', '/api/v1/tokens', h.tokens.support, {
      role: 'support',
      name: 'OLCHAT_ADMIN_TOKEN',
    })
    expect(reserved.status).toBe(422)
  })

  test('P1: a portal-scoped support token manages its own portal only', async () => {
    const own = await h.call('POST', '/api/v1/tokens', h.tokens.otherPortal, {
      role: 'portal-viewer',
      portalId: h.portalB,
    })
    expect(own.status).toBe(201)
    const everywhere = await h.call('POST', '/api/v1/tokens', h.tokens.otherPortal, { role: 'support' })
    expect(everywhere.status).toBe(403)
    const foreign = await h.call('POST', '/api/v1/tokens', h.tokens.otherPortal, {
      role: 'portal-viewer',
      portalId: h.portalA,
    })
    expect(foreign.status).toBe(403)
    const listed = await json(await h.call('GET', '/api/v1/tokens', h.tokens.otherPortal))
    expect(new Set(listed.tokens.map((t: { portalId: string }) => t.portalId))).toEqual(new Set([h.portalB]))
    const [managed] = await h.db.sql<{ id: string }[]>`
      select id from api_tokens where name = 'OLCHAT_ADMIN_TOKEN'`
    expect((await h.call('DELETE', `/api/v1/tokens/${managed!.id}`, h.tokens.otherPortal)).status).toBe(403)
    const byVariable = await h.call('DELETE', `/api/v1/tokens/${managed!.id}`, h.tokens.support)
    expect(byVariable.status).toBe(409)
    expect((await json(byVariable)).error).toBe('managed_token')
  })

  test('P2: a token change and its audit entry commit together or not at all', async () => {
    const count = async () =>
      (await h.db.sql<{ n: number }[]>`select count(*)::int as n from api_tokens`)[0]!.n
    const before = await count()
    // Without the chain head no entry can be appended: the change must roll back with it.
    const [head] = await h.db.sql<{ seq: string; hash: Buffer | null }[]>`
      select seq::text as seq, hash from audit_chain_head where id = 1`
    await h.db.sql`delete from audit_chain_head`
    try {
      const res = await h.call('POST', '/api/v1/tokens', h.tokens.support, {
        role: 'portal-viewer',
        portalId: h.portalA,
      })
      expect(res.status).toBe(500)
      expect(await count()).toBe(before)
    } finally {
      await h.db.sql`insert into audit_chain_head (id, seq, hash) values (1, ${head!.seq}, ${head!.hash})`
    }
    const res = await h.call('POST', '/api/v1/tokens', h.tokens.support, {
      role: 'portal-viewer',
      portalId: h.portalA,
    })
    expect(res.status).toBe(201)
    const { id } = await json(res)
    const [entry] = await h.db.sql<{ actor: string; actorRole: string; target: string; portalRef: string }[]>`
      select actor, actor_role, target, portal_ref from audit_log where action = 'token.created'
      order by seq desc limit 1`
    expect(entry).toMatchObject({ actorRole: 'support', target: `api-token:${id}` })
    expect(entry!.actor).toMatch(/^api-token:/)
    expect(entry!.portalRef).toMatch(/^portal:/)
    expect((await h.repos.auditLog.verifyChain()).ok).toBe(true)
  })
})
