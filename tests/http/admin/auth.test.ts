/**
 * API tokens of the admin API (PRIVACY P1/P2): stored hashed, the OLCHAT_ADMIN_TOKEN upsert, 401 and its
 * audit, and a portal-scoped token kept inside its portal. The whole route × role matrix is in
 * tests/http/auth/matrix.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ensureAdminToken, hashToken } from '../../../src/http/admin/index.ts'
import { auditActions, createHarness, type Harness, json } from './harness.ts'

let h: Harness

beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

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
