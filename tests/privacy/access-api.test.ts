/**
 * D1 over the admin API: `POST /api/v1/access-requests` through the real route stack (guard, scope check,
 * validation) of the admin harness, as JSON and as the Russian HTML report.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Readable } from 'node:stream'
import { createHarness, type Harness, json } from '../http/admin/harness.ts'

let h: Harness
let domainA: string
let accountA: string
const phone = '+79001234567'

beforeAll(async () => {
  h = await createHarness()
  domainA = (await h.repos.portals.get(h.portalA)).domain
  const account = await h.repos.accounts.create({ portalId: h.portalA, messenger: 'telegram', phone })
  accountA = account.id
  await h.repos.contacts.upsert(account.id, {
    remoteId: '4242',
    firstName: 'Olga <b>',
    phone: '+79007654321',
  })
  const { cache, files } = h.deps.privacy!
  await cache.set(`p:${h.portalA}:a:${account.id}:contacts`, 'Olga')
  await files.put(`p/${h.portalA}/a/${account.id}/in/photo-1`, Readable.from([Buffer.from('jpeg')]))
})
afterAll(() => h.close())

const requestCount = async () =>
  (await h.db.sql<{ n: number }[]>`select count(*)::int as n from data_requests`)[0]!.n

describe('access requests over the admin API', () => {
  test('D1: support exports a portal by its address, as JSON and as the Russian report', async () => {
    const res = await h.call('POST', '/api/v1/access-requests', h.tokens.support, {
      portal: `https://${domainA}/`,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await json(res)
    expect(body.portal).toMatchObject({ id: h.portalA, domain: domainA })
    expect(body.classes.map((c: { id: string }) => c.id)).toEqual(['I1', 'I2', 'I3', 'I4', 'I5', 'I6'])
    expect(JSON.stringify(body)).toContain(phone)
    expect(body.counts).toEqual({ I1: 1, I2: 2, I3: 0, I4: 1, I5: 0, I6: 1 })

    const page = await h.call('POST', '/api/v1/access-requests?format=html', h.tokens.support, {
      portal: h.portalA,
      account: accountA,
    })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toStartWith('text/html')
    expect(page.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'")
    const html = await page.text()
    expect(html).toContain('<html lang="ru">')
    expect(html).toContain('Olga &lt;b&gt;')
    expect(html).not.toContain('Olga <b>')
    const [audit] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from audit_log where action = 'data.access_exported'`
    expect(audit!.n).toBe(2)
  })

  test("D1: a portal's own caller may omit the portal; another portal's caller gets 403 and nothing is read", async () => {
    const before = await requestCount()
    const foreign = await h.call('POST', '/api/v1/access-requests', h.tokens.otherPortal, { portal: domainA })
    expect(foreign.status).toBe(403)
    expect(JSON.stringify(await json(foreign))).not.toContain(phone)
    expect(await requestCount()).toBe(before)
    const own = await h.call('POST', '/api/v1/access-requests', h.tokens.otherPortal, {})
    expect(own.status).toBe(200)
    expect((await json(own)).portal.id).toBe(h.portalB)
  })

  test('D1: bad requests are refused with the reason, nothing recorded', async () => {
    const before = await requestCount()
    const cases: [unknown, number, string][] = [
      [{}, 400, 'portal_required'],
      [{ portal: 'nowhere.bitrix24.ru' }, 404, 'not_found'],
      [{ portal: h.portalB, account: accountA }, 404, 'not_found'],
      [{ portal: h.portalA, account: accountA, contact: { remoteId: '4242' } }, 400, 'invalid_request'],
      [{ portal: h.portalA, contact: {} }, 400, 'invalid_request'],
      [{ portal: h.portalA, extra: 1 }, 400, 'invalid_request'],
    ]
    for (const [body, status, error] of cases) {
      const res = await h.call('POST', '/api/v1/access-requests', h.tokens.support, body)
      expect({ body, status: res.status, error: (await json(res)).error }).toEqual({ body, status, error })
    }
    expect(await requestCount()).toBe(before)
  })
})
