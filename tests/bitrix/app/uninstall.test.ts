import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Readable } from 'node:stream'
import { portalRef } from '../../../src/bitrix/app/security.ts'
import type { Sql } from '../../../storage/db.ts'
import { secrets } from '../../storage/fixtures.ts'
import * as samples from './samples.ts'
import { countAllRows, createHarness, type Harness, type InstalledPortal, install, post } from './support.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

/** Rows of every portal-owned table that belong to one portal (written independently of the purge code). */
async function ownedRows(sql: Sql, portalId: string): Promise<Record<string, number>> {
  const [row] = await sql<Record<string, number>[]>`
    select
      (select count(*) from portals where id = ${portalId})::int as portals,
      (select count(*) from lines where portal_id = ${portalId})::int as lines,
      (select count(*) from accounts where portal_id = ${portalId})::int as accounts,
      (select count(*) from account_sessions s join accounts a on a.id = s.account_id
        where a.portal_id = ${portalId})::int as account_sessions,
      (select count(*) from contacts c join accounts a on a.id = c.account_id
        where a.portal_id = ${portalId})::int as contacts,
      (select count(*) from chats c join accounts a on a.id = c.account_id
        where a.portal_id = ${portalId})::int as chats,
      (select count(*) from messages m join accounts a on a.id = m.account_id
        where a.portal_id = ${portalId})::int as messages,
      (select count(*) from deliveries d join accounts a on a.id = d.account_id
        where a.portal_id = ${portalId})::int as deliveries,
      (select count(*) from account_leases l join accounts a on a.id = l.account_id
        where a.portal_id = ${portalId})::int as account_leases,
      (select count(*) from analytics_daily where portal_id = ${portalId})::int as analytics_daily,
      (select count(*) from inbound_events where portal_id = ${portalId})::int as inbound_events,
      (select count(*) from retention_deadlines
        where subject_id = ${portalId}
          or subject_id in (select id::text from accounts where portal_id = ${portalId}))::int as retention_deadlines`
  // Column names come back camelCased: name them as their tables.
  return Object.fromEntries(
    Object.entries(row!).map(([key, count]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), count]),
  )
}

/** Everything a busy portal has: settings, an account with sealed secrets, contacts, chats, messages, queue.
 * */
async function seed(p: InstalledPortal) {
  const line = await h.repos.lines.upsert({ portalId: p.id, connectorId: 'olchat_telegram', lineId: '12' })
  const account = await h.repos.accounts.create({
    portalId: p.id,
    messenger: 'telegram',
    lineId: line.id,
    phone: '+79001234567',
    credentials: 'session-secret',
  })
  await h.repos.accountSessions.set(account.id, 'auth_key', 'key-bytes')
  const contact = await h.repos.contacts.upsert(account.id, { remoteId: 'u1', phone: '+79007654321' })
  const chat = await h.repos.chats.upsert({
    accountId: account.id,
    remoteChatId: 'tg-chat-77',
    contactId: contact.id,
  })
  await h.repos.messages.recordInbound({
    accountId: account.id,
    chatId: chat.id,
    originId: 'm1',
    sentAt: new Date(),
  })
  await h.repos.deliveries.enqueue({
    accountId: account.id,
    chatId: chat.id,
    direction: 'to_portal',
    kind: 'message',
    idempotencyKey: `seed:${p.id}`,
    payload: { text: 'hello' },
  })
  await h.repos.analytics.increment({ portalId: p.id, accountId: account.id, day: new Date(), inbound: 1 })
  const auth = { memberId: p.memberId, appToken: p.appToken }
  expect((await post(h, '/bitrix/events', samples.messageAdd(auth))).status).toBe(200)
  expect((await post(h, '/bitrix/events', samples.dialog(auth, 'START'))).status).toBe(200)
  await h.cache.set(`p:${p.id}:rate`, '1')
  await h.cache.set(`p:${p.id}:a:${account.id}:contacts`, '[]')
  // The REST client's keys are named by the portal outside its prefix; a deadline names it by id only.
  await h.cache.set(`bitrix:bucket:${p.id}`, String(Date.now()))
  await h.cache.set(`bitrix:refresh:${p.id}`, 'lock')
  await h.sql`
    insert into retention_deadlines (data_class, subject_type, subject_id, due_at)
    values ('I5', 'account', ${account.id}, now() + interval '1 day')`
  await h.files.put(`p/${p.id}/a/${account.id}/f1`, Readable.from([Buffer.from('file body')]))
}

async function filesOf(portalId: string): Promise<number> {
  let n = 0
  for await (const _ of h.files.listExpired(new Date(Date.now() + 60_000), `p/${portalId}/`)) n++
  return n
}

describe('OnAppUninstall', () => {
  test('D3: a wrong token changes nothing', async () => {
    const p = await install(h)
    await seed(p)
    const before = await countAllRows(h.sql)
    const res = await post(
      h,
      '/bitrix/events',
      samples.appUninstall({ memberId: p.memberId, appToken: 'wrong' }),
    )
    expect(res.status).toBe(401)
    await h.process()
    expect((await h.repos.portals.get(p.id)).status).toBe('active')
    const after = await countAllRows(h.sql)
    expect(after.portals).toBe(before.portals)
    expect(await ownedRows(h.sql, p.id)).toMatchObject({ portals: 1, accounts: 1, lines: 1, messages: 1 })
    expect(await h.cache.keys(`p:${p.id}:`)).toHaveLength(2)
    expect(await filesOf(p.id)).toBe(1)
  })

  for (const clean of ['1', '0'] as const) {
    test(`D3: the right token stops the portal at once, deletes all its rows (CLEAN=${clean})`, async () => {
      const target = await install(h)
      const other = await install(h)
      await seed(target)
      await seed(other)
      await h.process()
      const owned = await ownedRows(h.sql, target.id)
      const otherOwned = await ownedRows(h.sql, other.id)
      for (const table of [
        'portals',
        'accounts',
        'account_sessions',
        'contacts',
        'chats',
        'messages',
        'deliveries',
      ]) {
        expect({ table, rows: owned[table]! > 0 }).toEqual({ table, rows: true })
      }
      const before = await countAllRows(h.sql)

      const auth = { memberId: target.memberId, appToken: target.appToken }
      const res = await post(h, '/bitrix/events', samples.appUninstall(auth, clean))
      expect(res.status).toBe(200)
      // At once, before the worker ran: the REST client refuses it, no further event is accepted.
      expect((await h.repos.portals.get(target.id)).status).toBe('uninstalled')
      expect((await post(h, '/bitrix/events', samples.messageAdd(auth, { messageId: '5' }))).status).toBe(401)

      await h.process()
      const zero = Object.fromEntries(Object.keys(owned).map((table) => [table, 0]))
      expect(await ownedRows(h.sql, target.id)).toEqual(zero)
      expect(await ownedRows(h.sql, other.id)).toEqual(otherOwned)
      const after = await countAllRows(h.sql)
      for (const table of Object.keys(before)) {
        // Only the deletion receipt and its audit entry are new; they outlive the portal by design (D5).
        const expected =
          table in owned
            ? before[table]! - owned[table]!
            : table === 'audit_log' || table === 'data_requests'
              ? before[table]! + 1
              : before[table]!
        expect({ table, rows: after[table] }).toEqual({ table, rows: expected })
      }
      expect(await h.cache.keys(`p:${target.id}:`)).toEqual([])
      expect(await h.cache.keys(`bitrix:bucket:${target.id}`)).toEqual([])
      expect(await h.cache.keys(`bitrix:refresh:${target.id}`)).toEqual([])
      expect(await h.cache.keys(`bitrix:bucket:${other.id}`)).toHaveLength(1)
      expect(await filesOf(target.id)).toBe(0)
      expect(await h.cache.keys(`p:${other.id}:`)).toHaveLength(2)
      expect(await filesOf(other.id)).toBe(1)

      // The receipt and the audit entry name the portal by a keyed hash and record CLEAN (D3, D5).
      const ref = portalRef(secrets, target.memberId)
      const [receipt] = await h.repos.dataRequests.listByPortal(ref)
      expect(receipt).toMatchObject({ kind: 'deletion', status: 'done', scope: { clean: clean === '1' } })
      expect(receipt!.receipt).toMatchObject({
        trigger: 'OnAppUninstall',
        clean: clean === '1',
        rows: { portals: 1, accounts: 1, messages: 1 },
        cacheKeys: 4,
        files: 1,
      })
      const [entry] = await h.repos.auditLog.listByPortal(ref)
      expect(entry).toMatchObject({ action: 'portal.deleted', details: { clean: clean === '1' } })
      const text = JSON.stringify([receipt, entry])
      expect(text).not.toContain(target.memberId)
      expect(text).not.toContain(target.domain)
      expect(h.logs.join('')).toContain(`"clean":${clean === '1'}`)
    })
  }

  test('D3: a reinstall after an uninstall starts from nothing', async () => {
    const p = await install(h)
    await seed(p)
    const auth = { memberId: p.memberId, appToken: p.appToken }
    expect((await post(h, '/bitrix/events', samples.appUninstall(auth))).status).toBe(200)
    // Installed again before the worker purged: the old data must still go.
    const again = await install(h, {
      memberId: p.memberId,
      domain: p.domain,
      appToken: 'new-app-token-xxxxxxxxxxxxxx',
    })
    expect(again.id).not.toBe(p.id)
    expect(await ownedRows(h.sql, p.id)).toMatchObject({ portals: 0, accounts: 0, messages: 0 })
    expect((await h.repos.portals.get(again.id)).status).toBe('active')
    await h.process()
    expect((await h.repos.portals.get(again.id)).status).toBe('active')
  })
})
