import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { verifyAuditChain } from '../../src/privacy/audit-chain.ts'
import { deleteSubjectData } from '../../src/privacy/deletion.ts'
import { DeletionRequestError } from '../../src/privacy/deletion-request.ts'
import { checkInventory, describeProblem } from '../../src/privacy/inventory-check.ts'
import { contactSubjectRef, portalSubjectRef } from '../../src/privacy/subject-ref.ts'
import type { Sql } from '../../storage/db.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { repositories, secrets } from '../storage/fixtures.ts'
import { type SeededPortal, seedBusyPortal } from './seed.ts'
import { allObjects, openStores, type PrivacyStores, putText } from './stores.ts'

let stores: PrivacyStores
let repos: Repositories
beforeAll(async () => {
  stores = await openStores()
  repos = repositories(stores.db.sql)
})
afterAll(() => stores.close())

const deps = () => ({ sql: stores.db.sql, cache: stores.cache, files: stores.files, keys: secrets, repos })

/** Rows of each table that belong to a portal, counted with joins written here (not the policy's). */
async function portalRows(sql: Sql, portalId: string): Promise<Record<string, number>> {
  const [row] = await sql<Record<string, number>[]>`
    with a as (select id from accounts where portal_id = ${portalId}),
      c as (select id from contacts where account_id in (select id from a)),
      h as (select id from chats where account_id in (select id from a))
    select
      (select count(*) from portals where id = ${portalId})::int as portals,
      (select count(*) from lines where portal_id = ${portalId})::int as lines,
      (select count(*) from a)::int as accounts,
      (select count(*) from account_sessions where account_id in (select id from a))::int as account_sessions,
      (select count(*) from account_leases where account_id in (select id from a))::int as account_leases,
      (select count(*) from c)::int as contacts,
      (select count(*) from h)::int as chats,
      (select count(*) from messages where account_id in (select id from a))::int as messages,
      (select count(*) from deliveries where account_id in (select id from a))::int as deliveries,
      (select count(*) from inbound_events where portal_id = ${portalId})::int as inbound_events,
      (select count(*) from analytics_daily where portal_id = ${portalId})::int as analytics_daily,
      (select count(*) from api_tokens where portal_id = ${portalId})::int as api_tokens,
      (select count(*) from retention_deadlines where subject_id in (
        select id::text from c union select id::text from h union select id::text from a
        union select ${portalId}::text))::int as retention_deadlines,
      (select count(*) from telegram_auth_keys where account_id in (select id from a))::int as telegram_auth_keys,
      (select count(*) from telegram_kv where account_id in (select id from a))::int as telegram_kv,
      (select count(*) from telegram_peers where account_id in (select id from a))::int as telegram_peers,
      (select count(*) from telegram_message_refs where account_id in (select id from a))::int
        as telegram_message_refs,
      (select count(*) from telegram_message_chats where account_id in (select id from a))::int
        as telegram_message_chats,
      (select count(*) from max_updates where account_id in (select id from a))::int as max_updates`
  return Object.fromEntries(
    Object.entries(row!).map(([key, n]) => [key.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`), n]),
  )
}

/** Every row of every table as text, searched for each needle: where a value survives. */
async function findAnywhere(sql: Sql, needles: string[]): Promise<string[]> {
  const tables = await sql<{ name: string }[]>`
    select c.relname as name from pg_class c
    where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p') and not c.relispartition`
  const found: string[] = []
  for (const { name } of tables) {
    const rows = await sql<{ row: string }[]>`select t::text as row from ${sql(name)} t`
    for (const needle of needles)
      if (rows.some(({ row }) => row.includes(needle))) found.push(`${name}: ${needle}`)
  }
  return found
}

const nonZero = (counts: Record<string, number>) =>
  Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0))

async function cacheOf(portalId: string): Promise<string[]> {
  return (await stores.cache.keys('')).filter((key) => key.includes(portalId))
}

describe(`support deletion (${process.env.OLCHAT_TEST_BACKENDS ?? 'real'} backends)`, () => {
  let target: SeededPortal
  let other: SeededPortal
  let otherBefore: Record<string, number>

  test('D4: a whole portal goes from PostgreSQL, the cache and object storage; the receipt counts what was there', async () => {
    target = await seedBusyPortal(stores, repos)
    other = await seedBusyPortal(stores, repos)
    // A cache key and an object of the portal that the policy does not name: deleted all the same, and
    // counted apart as undeclared.
    await stores.cache.set(`p:${target.portalId}:rate`, 'x')
    await putText(stores.files, `p/${target.portalId}/exports/old.json`)
    const before = await portalRows(stores.db.sql, target.portalId)
    otherBefore = await portalRows(stores.db.sql, other.portalId)
    const cacheBefore = await cacheOf(target.portalId)
    const objectsBefore = (await allObjects(stores.files)).filter((key) => key.includes(target.portalId))
    expect(cacheBefore).toHaveLength(4)
    expect(objectsBefore).toHaveLength(5)

    const receipt = await deleteSubjectData(deps(), {
      memberId: target.memberId,
      requestedBy: 'api-token:support-1',
      via: 'test',
    })

    // Nothing of the portal is left anywhere.
    expect(nonZero(await portalRows(stores.db.sql, target.portalId))).toEqual({})
    expect(await cacheOf(target.portalId)).toEqual([])
    expect((await allObjects(stores.files)).filter((key) => key.includes(target.portalId))).toEqual([])
    expect(await findAnywhere(stores.db.sql, [target.portalId, target.accountId, ...target.secrets])).toEqual(
      [],
    )

    // The other portal is untouched.
    expect(await portalRows(stores.db.sql, other.portalId)).toEqual(otherBefore)
    expect(await cacheOf(other.portalId)).toHaveLength(3)
    expect((await allObjects(stores.files)).filter((key) => key.includes(other.portalId))).toEqual(
      other.objectKeys,
    )

    // The receipt counts exactly what was there, per table and per class.
    expect(receipt.tables).toEqual(before)
    expect(receipt.totals).toEqual({
      rows: Object.values(before).reduce((a, b) => a + b, 0),
      cacheKeys: cacheBefore.length,
      objects: objectsBefore.length,
    })
    expect(receipt.classes).toMatchObject({
      I1: { rows: { accounts: 1, account_sessions: 1, telegram_auth_keys: 1, telegram_kv: 1 } },
      I2: { rows: { contacts: 2, telegram_peers: 2, telegram_message_refs: 2 }, cacheKeys: 1 },
      I3: { rows: { deliveries: 2, inbound_events: 2 } },
      I4: { objects: 4 },
      I5: { rows: { messages: 2, chats: 2, deliveries: 2, analytics_daily: 1, telegram_message_chats: 2 } },
      I6: { rows: { portals: 1, lines: 1 } },
      technical: { rows: { account_leases: 1, api_tokens: 1, retention_deadlines: 2 }, cacheKeys: 2 },
      undeclared: { rows: {}, cacheKeys: 1, objects: 1 },
    })
    expect(receipt).toMatchObject({
      scope: 'portal',
      portal: portalSubjectRef(secrets, target.memberId),
      subject: portalSubjectRef(secrets, target.memberId),
      requestedBy: 'api-token:support-1',
    })
  })

  test('D5: the receipt and the audit entry record the deletion and name the portal only by a keyed hash', async () => {
    const ref = portalSubjectRef(secrets, target.memberId)
    const [stored] = await repos.dataRequests.listByPortal(ref)
    expect(stored).toMatchObject({ kind: 'deletion', status: 'done', requestedBy: 'api-token:support-1' })
    const [entry] = await repos.auditLog.listByPortal(ref)
    expect(entry).toMatchObject({
      action: 'data.portal_deleted',
      actor: 'api-token:support-1',
      actorRole: 'support',
      target: ref,
      details: { via: 'test', requestId: stored!.id },
    })
    const text = JSON.stringify([stored, entry])
    for (const value of [target.portalId, target.accountId, ...target.secrets])
      expect(text).not.toContain(value)
    // Keyed: another key ring gives another reference, so the hash cannot be recomputed from the member id alone.
    expect(portalSubjectRef(KeyRing.fromText(`k9:${generateKey()}`), target.memberId)).not.toBe(ref)
    expect((await verifyAuditChain(stores.db.sql)).ok).toBe(true)
    // What is left passes the allow-list and holds nothing overdue.
    const report = await checkInventory({ sql: stores.db.sql, cache: stores.cache, files: stores.files })
    expect(report.problems.map(describeProblem)).toEqual([])
  })

  test('D4: one contact across every account of a portal goes everywhere; other contacts and portals stay', async () => {
    const portal = await seedBusyPortal(stores, repos)
    const [gone, kept] = portal.contacts
    // The same person reached through a second account (another messenger login) of the portal.
    const second = await repos.accounts.create({ portalId: portal.portalId, messenger: 'sandbox' })
    const twin = await repos.contacts.upsert(second.id, {
      remoteId: 'sandbox-77',
      firstName: gone.firstName,
      phone: gone.phone,
    })
    const twinChat = await repos.chats.upsert({
      accountId: second.id,
      remoteChatId: 'sandbox-77',
      contactId: twin.id,
    })
    await repos.messages.recordInbound({
      accountId: second.id,
      chatId: twinChat.id,
      originId: 'tw1',
      sentAt: new Date(),
    })
    await stores.cache.set(`p:${portal.portalId}:a:${second.id}:contacts`, '[]')
    const keptObjects = kept.objectKeys
    const rowsBefore = await portalRows(stores.db.sql, portal.portalId)
    const otherRows = await portalRows(stores.db.sql, other.portalId)

    const receipt = await deleteSubjectData(deps(), {
      memberId: portal.memberId,
      // Another notation of the same number: compared by digits.
      contact: {
        phone: gone.phone.replace(/^\+7(\d{3})(\d{3})(\d{4})$/, '8 ($1) $2-$3').replace(/^8/, '+7'),
      },
      requestedBy: 'api-token:support-2',
    })

    const rowsAfter = await portalRows(stores.db.sql, portal.portalId)
    const removed = Object.fromEntries(
      Object.keys(rowsBefore).map((table) => [table, rowsBefore[table]! - rowsAfter[table]!]),
    )
    expect(nonZero(removed)).toEqual({
      contacts: 2,
      chats: 2,
      messages: 2,
      deliveries: 1,
      inbound_events: 1,
      retention_deadlines: 1,
      telegram_peers: 1,
      telegram_message_refs: 1,
      telegram_message_chats: 1,
    })
    expect(nonZero(receipt.tables)).toEqual(nonZero(removed))
    expect(receipt.classes).toMatchObject({
      I2: { rows: { contacts: 2, telegram_peers: 1, telegram_message_refs: 1 }, cacheKeys: 2 },
      I3: { rows: { deliveries: 1, inbound_events: 1 } },
      I4: { objects: 2 },
      I5: { rows: { chats: 2, messages: 2, deliveries: 1, telegram_message_chats: 1 } },
      technical: { rows: { retention_deadlines: 1 } },
    })
    expect(receipt.totals).toEqual({ rows: 12, cacheKeys: 2, objects: 2 })

    // Nothing of the contact is left; the other contact of the portal and the other portal are untouched.
    expect(await findAnywhere(stores.db.sql, [gone.phone, gone.username, gone.firstName])).toEqual([])
    expect(await repos.contacts.findByRemote(portal.accountId, kept.remoteId)).toMatchObject({
      phone: kept.phone,
    })
    expect(await repos.chats.getByRemote(portal.accountId, kept.remoteChatId)).toBeDefined()
    const objects = await allObjects(stores.files)
    for (const key of gone.objectKeys) expect(objects).not.toContain(key)
    for (const key of keptObjects) expect(objects).toContain(key)
    expect(await portalRows(stores.db.sql, other.portalId)).toEqual(otherRows)
    expect(await cacheOf(portal.portalId)).toEqual([
      `bitrix:bucket:${portal.portalId}`,
      `bitrix:refresh:${portal.portalId}`,
    ])

    // D5: the receipt and the audit entry know the contact only by a keyed hash.
    const subject = contactSubjectRef(secrets, portal.memberId, { phone: gone.phone.replace(/\D/g, '') })
    expect(receipt).toMatchObject({
      scope: 'contact',
      subject,
      portal: portalSubjectRef(secrets, portal.memberId),
    })
    const [entry] = await repos.auditLog.listByPortal(receipt.portal)
    expect(entry).toMatchObject({ action: 'data.contact_deleted', target: subject })
    const text = JSON.stringify([receipt, entry, await repos.dataRequests.get(receipt.requestId)])
    for (const value of [
      gone.phone,
      gone.phone.replace(/\D/g, ''),
      gone.username,
      gone.firstName,
      gone.remoteId,
    ]) {
      expect(text).not.toContain(value)
    }
  })

  test('D4: a request for a contact the portal does not hold deletes nothing and says so', async () => {
    const portal = await seedBusyPortal(stores, repos)
    const before = await portalRows(stores.db.sql, portal.portalId)
    const receipt = await deleteSubjectData(deps(), {
      memberId: portal.memberId,
      contact: { username: '@nobody_here' },
      requestedBy: 'api-token:support-2',
    })
    expect(receipt.totals).toEqual({ rows: 0, cacheKeys: 0, objects: 0 })
    expect(await portalRows(stores.db.sql, portal.portalId)).toEqual(before)
  })

  test('D4: a malformed request or an unknown portal is refused before anything changes', async () => {
    const portal = await seedBusyPortal(stores, repos)
    const before = await portalRows(stores.db.sql, portal.portalId)
    const bad: unknown[] = [
      { memberId: portal.memberId, requestedBy: 'api-token:x', contact: {} },
      { memberId: portal.memberId, requestedBy: 'Ivan Petrov <ivan@example.com>' },
      { memberId: portal.memberId, requestedBy: 'api-token:x', contact: { phone: '12' } },
      { memberId: portal.memberId, requestedBy: 'api-token:x', everything: true },
      { requestedBy: 'api-token:x' },
    ]
    for (const input of bad)
      await expect(deleteSubjectData(deps(), input)).rejects.toThrow(DeletionRequestError)
    await expect(
      deleteSubjectData(deps(), { memberId: 'no-such-member', requestedBy: 'api-token:x' }),
    ).rejects.toThrow('portal (by member id) not found')
    expect(await portalRows(stores.db.sql, portal.portalId)).toEqual(before)
    expect((await repos.portals.get(portal.portalId)).status).toBe('active')
  })
})
