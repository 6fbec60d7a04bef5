/**
 * `/api/v1/accounts`: the list with health, binding to a line of the same portal, disconnect through the
 * AccountControl port, and the 400 error format of the validators.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { auditActions, createHarness, type Harness, json } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

describe('accounts', () => {
  test('the list shows health and leaves out the phone number', async () => {
    const account = await h.repos.accounts.create({
      portalId: h.portalA,
      messenger: 'sandbox',
      phone: '+15551234567',
      displayName: 'Desk',
    })
    await h.repos.accounts.setHealth(account.id, 'needs_login')
    const res = await h.call('GET', `/api/v1/accounts?portal=${h.portalA}`, h.tokens.support)
    expect(res.status).toBe(200)
    const { accounts } = await json(res)
    const shown = accounts.find((a: { id: string }) => a.id === account.id)
    expect(shown).toMatchObject({ health: 'needs_login', displayName: 'Desk', lineId: null })
    expect(Date.parse(shown.healthChangedAt)).not.toBeNaN()
    expect(JSON.stringify(accounts)).not.toContain('1234567')
    const one = await json(await h.call('GET', `/api/v1/accounts/${account.id}`, h.tokens.support))
    expect(one.id).toBe(account.id)
  })

  test('bind to a line of the same portal, unbind with null; another portal’s line is refused', async () => {
    const account = await h.repos.accounts.create({ portalId: h.portalA, messenger: 'sandbox' })
    const own = await h.repos.lines.upsert({
      portalId: h.portalA,
      connectorId: 'olchat_sandbox',
      lineId: '7',
    })
    const other = await h.repos.lines.upsert({
      portalId: h.portalB,
      connectorId: 'olchat_sandbox',
      lineId: '7',
    })
    const path = `/api/v1/accounts/${account.id}/line`
    const bound = await h.call('POST', path, h.tokens.support, { lineId: own.id })
    expect(bound.status).toBe(200)
    expect((await json(bound)).lineId).toBe(own.id)
    expect((await h.repos.accounts.get(account.id)).lineId).toBe(own.id)

    const foreign = await h.call('POST', path, h.tokens.support, { lineId: other.id })
    expect(foreign.status).toBe(422)
    expect((await json(foreign)).error).toBe('invalid_line')
    const missing = await h.call('POST', path, h.tokens.support, { lineId: '999999' })
    expect(missing.status).toBe(422)

    const unbound = await h.call('POST', path, h.tokens.support, { lineId: null })
    expect((await json(unbound)).lineId).toBeNull()
    const actions = await auditActions(h)
    expect(actions).toEqual(expect.arrayContaining(['account.line_bound', 'account.line_unbound']))
  })

  test("name the employee the owner's own messages are shown as, clear it with null; not for a MAX bot", async () => {
    const account = await h.repos.accounts.create({ portalId: h.portalA, messenger: 'telegram' })
    const path = `/api/v1/accounts/${account.id}/employee`
    const set = await h.call('POST', path, h.tokens.support, { employeeId: '27' })
    expect(set.status).toBe(200)
    expect((await json(set)).employeeId).toBe('27')
    expect((await h.repos.accounts.get(account.id)).employeeId).toBe('27')
    const listed = await json(await h.call('GET', `/api/v1/accounts/${account.id}`, h.tokens.support))
    expect(listed.employeeId).toBe('27')
    for (const bad of ['0', '27a', '', 27]) {
      const refused = await h.call('POST', path, h.tokens.support, { employeeId: bad })
      expect(refused.status).toBe(400)
    }
    const cleared = await h.call('POST', path, h.tokens.support, { employeeId: null })
    expect((await json(cleared)).employeeId).toBeNull()
    expect((await h.repos.accounts.get(account.id)).employeeId).toBeNull()
    const bot = await h.repos.accounts.create({ portalId: h.portalA, messenger: 'max' })
    const botPath = `/api/v1/accounts/${bot.id}/employee`
    const refused = await h.call('POST', botPath, h.tokens.support, { employeeId: '27' })
    expect(refused.status).toBe(422)
    expect((await json(refused)).error).toBe('own_messages_unsupported')
    expect((await h.call('POST', botPath, h.tokens.support, { employeeId: null })).status).toBe(200)
    const [entry] = await h.db.sql<{ details: Record<string, unknown> }[]>`
      select details from audit_log where action = 'account.employee_set' and target = ${`account:${account.id}`}`
    expect(entry!.details).toMatchObject({ employeeId: '27', previousEmployeeId: null })
    expect(await auditActions(h)).toEqual(expect.arrayContaining(['account.employee_cleared']))
  })

  test('disconnect asks the runtime to stop the account and is audited', async () => {
    const account = await h.repos.accounts.create({ portalId: h.portalA, messenger: 'sandbox' })
    h.control.calls.length = 0
    const res = await h.call('POST', `/api/v1/accounts/${account.id}/disconnect`, h.tokens.support)
    expect(res.status).toBe(200)
    expect(h.control.calls).toEqual([`stop ${account.id}`])
    const [entry] = await h.db.sql<{ actor: string; actorRole: string; target: string; portalRef: string }[]>`
      select actor, actor_role, target, portal_ref from audit_log
      where action = 'account.disconnected' order by id desc limit 1`
    expect(entry).toMatchObject({ actorRole: 'support', target: `account:${account.id}` })
    expect(entry!.actor).toMatch(/^api-token:/)
    expect(entry!.portalRef).toMatch(/^portal:/)
    expect((await h.repos.auditLog.verifyChain()).ok).toBe(true)
  })

  test('unknown account is 404; bad ids and bodies are 400 with issues', async () => {
    const unknown = await h.call(
      'GET',
      '/api/v1/accounts/00000000-0000-4000-8000-000000000000',
      h.tokens.support,
    )
    expect(unknown.status).toBe(404)
    const badId = await h.call('GET', '/api/v1/accounts/42', h.tokens.support)
    expect(badId.status).toBe(400)
    expect(await json(badId)).toMatchObject({
      error: 'invalid_request',
      issues: [{ in: 'param', path: 'id' }],
    })
    const badBody = await h.call('POST', '/api/v1/accounts', h.tokens.support, {
      portalId: h.portalA,
      messenger: 'icq',
      extra: 1,
    })
    expect(badBody.status).toBe(400)
    const body = await json(badBody)
    expect(body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['extra', 'messenger'])
    const malformed = await h.app.request('/api/v1/accounts', {
      method: 'POST',
      headers: { Authorization: `Bearer ${h.tokens.support}`, 'Content-Type': 'application/json' },
      body: '{',
    })
    expect(malformed.status).toBe(400)
    expect((await json(malformed)).error).toBe('invalid_request')
  })
})
