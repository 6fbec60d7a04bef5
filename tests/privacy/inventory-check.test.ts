import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomUUID } from 'node:crypto'
import { checkInventory, describeProblem, type InventoryReport } from '../../src/privacy/inventory-check.ts'
import { privacyPolicy } from '../../src/privacy/policy.ts'
import { declaredColumns, policyProblems } from '../../src/privacy/policy-index.ts'
import type { ClassId } from '../../src/privacy/policy-types.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { repositories } from '../storage/fixtures.ts'
import { seedBusyPortal } from './seed.ts'
import { openStores, type PrivacyStores, putText } from './stores.ts'

let stores: PrivacyStores
let repos: Repositories
beforeAll(async () => {
  stores = await openStores()
  repos = repositories(stores.db.sql)
})
afterAll(() => stores.close())

const DAY = 86_400_000
const lines = (report: InventoryReport) => report.problems.map(describeProblem)
const check = (options: Parameters<typeof checkInventory>[1] = {}) =>
  checkInventory({ sql: stores.db.sql, cache: stores.cache, files: stores.files }, options)

describe('privacy policy', () => {
  test('I1, I2, I3, I4, I5, I6: every inventory class has storage locations, a retention rule and a deletion trigger', () => {
    const ids = Object.keys(privacyPolicy.classes).sort()
    expect(ids).toEqual(['I1', 'I2', 'I3', 'I4', 'I5', 'I6'])
    for (const id of ids as ClassId[]) {
      const locations = privacyPolicy.classes[id].locations
      expect({ id, locations: locations.length > 0 }).toEqual({ id, locations: true })
      for (const location of locations) {
        expect(location.rules.length).toBeGreaterThan(0)
        expect(location.triggers.length).toBeGreaterThan(0)
      }
    }
    // Files are declared only in object storage, never as a column (I4 is transfer-only); text only sealed.
    expect(privacyPolicy.classes.I4.locations.every((l) => l.store === 'objects')).toBe(true)
    const textColumns = privacyPolicy.classes.I3.locations.flatMap((l) =>
      l.store === 'postgres' ? l.columns : [],
    )
    expect(textColumns.every((column) => column.endsWith('_enc'))).toBe(true)
    expect(policyProblems(privacyPolicy)).toEqual([])
  })

  test('the policy is consistent: a column declared twice is a policy problem', () => {
    const twice = {
      ...privacyPolicy,
      technical: {
        ...privacyPolicy.technical,
        columns: [
          ...privacyPolicy.technical.columns,
          { table: 'contacts', columns: ['phone_enc'], why: 'x' },
        ],
      },
    }
    expect(policyProblems(twice)).toEqual(['contacts.phone_enc: declared twice (I2 and technical)'])
  })
})

describe(`inventory check (${process.env.OLCHAT_TEST_BACKENDS ?? 'real'} backends)`, () => {
  test('I1, I2, I3, I4, I5, I6: the real schema, a busy portal, its cache keys and objects pass the allow-list', async () => {
    await seedBusyPortal(stores, repos)
    const report = await check()
    expect(lines(report)).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.checked.tables).toBe(declaredColumns(privacyPolicy).size)
    expect(report.checked.cacheKeys).toBe(3)
    expect(report.checked.objects).toBe(4)
  })

  test('I1, I2, I3, I4, I5, I6: an undeclared column, cache key and object prefix each fail the check by name', async () => {
    const strayKey = `p:${randomUUID()}:a:${randomUUID()}:phones`
    await stores.db.sql`alter table contacts add column birthday date`
    await stores.db.sql`create table notes (id bigint primary key, body text)`
    await stores.cache.set('marketing:emails', 'x')
    await stores.cache.set(strayKey, 'x')
    await putText(stores.files, 'exports/portal-dump.json')
    try {
      const report = await check()
      expect(report.ok).toBe(false)
      expect(lines(report).sort()).toEqual(
        [
          'column contacts.birthday is not declared in the privacy policy',
          'table notes (id, body) is not declared in the privacy policy',
          'cache key marketing:emails matches no pattern of the privacy policy',
          `cache key ${strayKey} matches no pattern of the privacy policy`,
          'object exports/portal-dump.json matches no prefix of the privacy policy',
        ].sort(),
      )
    } finally {
      await stores.db.sql`alter table contacts drop column birthday`
      await stores.db.sql`drop table notes`
      await stores.cache.delete('marketing:emails')
      await stores.cache.delete(strayKey)
      await stores.files.delete('exports/portal-dump.json')
    }
    expect((await check()).ok).toBe(true)
  })

  test('a declared column missing from the schema is reported too (the policy must follow the schema)', async () => {
    await stores.db.sql`alter table chats drop column context`
    try {
      expect(lines(await check())).toEqual([
        'column chats.context is declared in the privacy policy but does not exist',
      ])
    } finally {
      await stores.db.sql`alter table chats add column context jsonb not null default '{}'`
    }
  })

  test('R1, R2, R3, R6, R7: declared data held past its rule is reported (time travel, no sweep ran)', async () => {
    const seeded = await seedBusyPortal(stores, repos)
    // 100 days on: metadata (R3, 90 d), analytics (R7, 90 d) and the queued bodies (R8, 7 d) are overdue.
    const later = lines(await check({ now: new Date(Date.now() + 100 * DAY) }))
    expect(later).toEqual(
      expect.arrayContaining([
        'messages: 4 row(s) past R3 (I5): message metadata older than the period',
        'analytics_daily: 2 row(s) past R7 (I5): analytics days older than the period',
        'deliveries: 4 row(s) past R8 (I3): message bodies kept past delivery or past their 7 days',
        'inbound_events: 4 row(s) past R8 (I3): operator message bodies kept past their 7 days',
      ]),
    )
    // A contact marked stale 9 days ago (R6: 7 days + 1 day grace).
    await stores.db.sql`
      update contacts set stale_at = now() - interval '9 days' where id = ${seeded.contacts[0].id}`
    // Disconnected two days ago, but its session, credentials, profile and contacts are still here (R1, R2).
    await stores.db.sql`
      update accounts set health = 'disconnected', health_changed_at = now() - interval '2 days'
      where id = ${seeded.accountId}`
    const now = lines(await check())
    expect(now).toEqual(
      expect.arrayContaining([
        'contacts: 1 row(s) past R6 (I2): contacts stale longer than the period',
        'contacts: 2 row(s) past R2 (I2): contacts of a disconnected account',
        'accounts: 1 row(s) past R1 (I1): credentials kept on a disconnected account',
        'accounts: 1 row(s) past R1 (I1): profile (id, name, username, phone, photo) kept on a disconnected account',
        'account_sessions: 1 row(s) past R1 (I1): session state of a disconnected account',
        'telegram_auth_keys: 1 row(s) past R1 (I1): auth keys of a disconnected account',
        `cache key p:${seeded.portalId}:a:${seeded.accountId}:contacts (I2) outlived its owner: its account was disconnected or deleted`,
      ]),
    )
    for (const key of seeded.objectKeys) {
      expect(now).toContain(`object ${key} (I4) is overdue: its account was disconnected or deleted`)
    }
    // Nothing of the other (earlier) portal is reported: it is neither old nor disconnected.
    expect(
      now.filter((line) => !line.includes('row(s)')).every((line) => line.includes(seeded.portalId)),
    ).toBe(true)
    await stores.db.sql`delete from portals where id = ${seeded.portalId}`
    for (const key of seeded.cacheKeys) await stores.cache.delete(key)
    for (const key of seeded.objectKeys) await stores.files.delete(key)
  })

  test('R4: settings and keys of a portal outliving its uninstall are overdue', async () => {
    const seeded = await seedBusyPortal(stores, repos)
    await stores.db.sql`
      update portals set status = 'uninstalled', updated_at = now() - interval '2 days' where id = ${seeded.portalId}`
    const found = lines(await check())
    expect(found).toEqual(
      expect.arrayContaining([
        'portals: 1 row(s) past R4 (I6): portals still held after the app was removed',
        'lines: 1 row(s) past R4 (I6): line settings still held after the app was removed',
        `cache key bitrix:bucket:${seeded.portalId} (technical) outlived its owner: its portal was removed`,
        `cache key bitrix:refresh:${seeded.portalId} (technical) outlived its owner: its portal was removed`,
      ]),
    )
    await stores.db.sql`delete from portals where id = ${seeded.portalId}`
    for (const key of seeded.cacheKeys) await stores.cache.delete(key)
    for (const key of seeded.objectKeys) await stores.files.delete(key)
    expect(lines(await check())).toEqual([])
  })
})
