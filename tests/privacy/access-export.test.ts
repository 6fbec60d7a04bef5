/**
 * Access requests (PRIVACY D1, D5) on the backends of this run: a busy portal seeded in every store (rows,
 * cache keys, objects) beside a second one; the export must hold every inventory class of the policy with
 * sealed values opened, nothing of the other portal, deadlines from the periods in force, and narrow to one
 * account or one contact.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { exportSubjectData } from '../../src/privacy/access-export.ts'
import { DEADLINES, missingDeadlines } from '../../src/privacy/access-export-deadlines.ts'
import { renderAccessReport } from '../../src/privacy/access-export-html.ts'
import { AccountNotInPortalError } from '../../src/privacy/access-export-scope.ts'
import {
  type AccessExport,
  AccessRequestError,
  type ExportedItem,
  PortalNotFoundForExportError,
} from '../../src/privacy/access-export-types.ts'
import { AUTHENTICATION_SECRETS } from '../../src/privacy/access-export-values.ts'
import { privacyPolicy } from '../../src/privacy/policy.ts'
import { declaredColumns } from '../../src/privacy/policy-index.ts'
import { retentionPeriods } from '../../src/privacy/retention-periods.ts'
import { contactSubjectRef } from '../../src/privacy/subject-ref.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { repositories, secrets } from '../storage/fixtures.ts'
import { type SeededPortal, seedBusyPortal } from './seed.ts'
import { openStores, type PrivacyStores, putText } from './stores.ts'

let stores: PrivacyStores
let repos: Repositories
let one: SeededPortal
let two: SeededPortal
let secondAccount: { id: string; phone: string; contactName: string; fileKey: string }

beforeAll(async () => {
  stores = await openStores()
  repos = repositories(stores.db.sql)
  one = await seedBusyPortal(stores, repos)
  two = await seedBusyPortal(stores, repos)
  // A second account of portal one, with a contact and a file of its own (for narrowing).
  const phone = '+79995550101'
  const account = await repos.accounts.create({ portalId: one.portalId, messenger: 'max', phone })
  const contact = await repos.contacts.upsert(account.id, { remoteId: '777001', firstName: 'Zinaida' })
  await repos.chats.upsert({ accountId: account.id, remoteChatId: '777001', contactId: contact.id })
  const fileKey = `p/${one.portalId}/a/${account.id}/in/second-file`
  await putText(stores.files, fileKey)
  await stores.cache.set(`p:${one.portalId}:a:${account.id}:contacts`, 'Zinaida')
  secondAccount = { id: account.id, phone, contactName: 'Zinaida', fileKey }
})
afterAll(() => stores.close())

const periods = retentionPeriods()
const deps = (overrides: Partial<{ periods: typeof periods }> = {}) => ({
  sql: stores.db.sql,
  cache: stores.cache,
  files: stores.files,
  keys: secrets,
  repos,
  periods,
  ...overrides,
})

const request = (extra: Record<string, unknown> = {}) => ({
  portal: one.domain,
  requestedBy: 'api-token:test',
  via: 'test',
  ...extra,
})

const itemsOf = (report: AccessExport, id: string) => report.classes.find((c) => c.id === id)!.items
const rowsOf = (report: AccessExport, table: string) =>
  report.classes
    .flatMap((c) => c.items)
    .filter((i): i is Extract<ExportedItem, { store: 'postgres' }> => {
      return i.store === 'postgres' && i.table === table
    })

describe(`access export (${process.env.OLCHAT_TEST_BACKENDS ?? 'real'} backends)`, () => {
  test('D1: a seeded portal’s export holds every inventory class, sealed values opened, nothing of another portal', async () => {
    const report = await exportSubjectData(deps(), request())
    expect(report.classes.map((c) => c.id)).toEqual(Object.keys(privacyPolicy.classes) as never)
    for (const dataClass of report.classes) expect(dataClass.items.length).toBeGreaterThan(0)
    const text = JSON.stringify(report)
    // Opened: the account's and the contacts' phones, the queued customer message, the operator's reply.
    for (const value of [one.accountPhone, ...one.contacts.map((c) => c.phone), one.contacts[0].firstName])
      expect(text).toContain(value)
    expect(text).toContain(`hello from a`)
    expect(text).toContain(`reply to a`)
    // Every store: cache keys and objects of the portal.
    for (const key of one.cacheKeys.filter((k) => k.startsWith('p:'))) expect(text).toContain(key)
    for (const key of one.objectKeys) expect(text).toContain(key)
    // Nothing of portal two, not even its ids.
    for (const value of [...two.secrets, two.portalId, two.accountId]) expect(text).not.toContain(value)
    // Credentials are reported as held, never handed out.
    for (const secret of [/session-secret-\d/, /key-bytes-\d/, /app-token-\d/, /"access-\d/, /refresh-\d/])
      expect(text).not.toMatch(secret)
    const account = rowsOf(report, 'accounts').find((r) => 'credentials' in r.data)!
    expect(account.data.credentials).toMatchObject({ withheld: 'authentication-secret' })
    expect(report.counts.I4).toBe(one.objectKeys.length + 1)
  })

  test('D1: every column the policy declares for a class appears in the export under that class', async () => {
    const report = await exportSubjectData(deps(), request())
    const exported = new Set(
      report.classes.flatMap((c) =>
        c.items.flatMap((i) =>
          i.store === 'postgres' ? Object.keys(i.data).map((col) => `${c.id} ${i.table}.${col}`) : [],
        ),
      ),
    )
    for (const [table, columns] of declaredColumns(privacyPolicy)) {
      for (const [column, holder] of columns) {
        if (holder === 'technical' || table === 'max_updates') continue // no MAX account in the seed
        expect(exported).toContain(`${holder} ${table}.${column.replace(/_enc$/, '')}`)
      }
    }
  })

  test('D1: each item carries its deletion deadline from the policy’s rule and the periods in force', async () => {
    const standard = await exportSubjectData(deps(), request())
    const shorter = await exportSubjectData(deps({ periods: { ...periods, R3: 10, R8: 2 } }), request())
    const [message] = rowsOf(standard, 'messages')
    const [shortMessage] = rowsOf(shorter, 'messages')
    const sentAt = new Date(message!.data.sent_at as string).getTime()
    expect(new Date(message!.retention.deleteBy!).getTime()).toBe(sentAt + 90 * 86_400_000)
    expect(new Date(shortMessage!.retention.deleteBy!).getTime()).toBe(sentAt + 10 * 86_400_000)
    const file = shorter.classes
      .find((c) => c.id === 'I4')!
      .items.find((i): i is Extract<ExportedItem, { store: 'objects' }> => i.store === 'objects')!
    expect(new Date(file.retention.deleteBy!).getTime()).toBe(
      new Date(file.lastModified).getTime() + 2 * 86_400_000,
    )
    // Rules that end with an event say so in words; the policy's text for R1, the period's for R6.
    const session = rowsOf(standard, 'account_sessions')[0]!
    expect(session.retention).toMatchObject({ deleteBy: null, until: [{ rule: 'R1' }] })
    const contact = rowsOf(shorter, 'contacts')[0]!
    expect(contact.retention.until.map((u) => u.rule)).toEqual(['R2', 'R6'])
    expect(contact.retention.until[1]!.ru).toContain('7 дней')
  })

  test('D1: every period rule of a table location has its deadline expression; withheld secrets are declared', () => {
    expect(missingDeadlines(privacyPolicy)).toEqual([])
    const declared = declaredColumns(privacyPolicy)
    for (const context of AUTHENTICATION_SECRETS) {
      const [table, column] = context.split('.')
      expect(declared.get(table!)?.has(`${column}_enc`)).toBe(true)
    }
    for (const key of Object.keys(DEADLINES)) expect(declared.has(key.split('.')[0]!)).toBe(true)
  })

  test('D1: narrowed to one account, only that account’s data', async () => {
    const first = JSON.stringify(await exportSubjectData(deps(), request({ account: one.accountId })))
    const second = await exportSubjectData(deps(), request({ account: secondAccount.id }))
    const secondText = JSON.stringify(second)
    expect(first).toContain(one.accountPhone)
    expect(first).toContain(one.contacts[0].phone)
    for (const value of [
      secondAccount.phone,
      secondAccount.contactName,
      secondAccount.fileKey,
      secondAccount.id,
    ])
      expect(first).not.toContain(value)
    for (const value of [secondAccount.phone, secondAccount.contactName, secondAccount.fileKey])
      expect(secondText).toContain(value)
    for (const value of [one.accountPhone, one.contacts[0].phone, one.contacts[0].firstName])
      expect(secondText).not.toContain(value)
    // Portal settings are not the account's: its export leaves I6 empty.
    expect(itemsOf(second, 'I6')).toEqual([])
  })

  test('D1: narrowed to one contact (by phone, any notation), only that contact’s data', async () => {
    const [a, b] = one.contacts
    const phone = `${a.phone.slice(0, 2)} (${a.phone.slice(2, 5)}) ${a.phone.slice(5)}`
    const report = await exportSubjectData(deps(), request({ contact: { phone } }))
    const text = JSON.stringify(report)
    for (const value of [a.phone, a.firstName, `hello from a`, `reply to a`, ...a.objectKeys])
      expect(text).toContain(value)
    for (const value of [
      b.phone,
      b.firstName,
      `hello from b`,
      `reply to b`,
      ...b.objectKeys,
      one.accountPhone,
    ])
      expect(text).not.toContain(value)
    expect(itemsOf(report, 'I4').length).toBe(a.objectKeys.length)
  })

  test('D1: the HTML report is Russian, self-contained and escapes every value', async () => {
    const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>&"'`
    const account = await repos.accounts.create({ portalId: one.portalId, messenger: 'telegram' })
    await repos.contacts.upsert(account.id, { remoteId: '880001', firstName: hostile, lastName: hostile })
    const report = await exportSubjectData(deps(), request({ account: account.id }))
    const html = renderAccessReport(report)
    expect(html).toStartWith('<!doctype html>\n<html lang="ru">')
    expect(html).toContain('Какие персональные данные хранит Олчат')
    expect(html).not.toContain(hostile)
    expect(html).toContain(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;',
    )
    // No markup that loads or runs anything: no scripts, images, frames, links or external URLs.
    expect(html).not.toMatch(/<(script|img|iframe|object|embed|link|a)\b/i)
    expect(html).not.toMatch(/<[^>]*\b(src|href)\s*=/i)
    for (const dataClass of Object.values(privacyPolicy.classes)) expect(html).toContain(dataClass.title.ru)
  })

  test('D5: an access request is recorded with counts and names its subject only by a keyed hash', async () => {
    const [a] = one.contacts
    const report = await exportSubjectData(deps(), request({ contact: { username: `@${a.username}` } }))
    const [stored] = await stores.db.sql<{ kind: string; scope: string; receipt: string }[]>`
      select kind, scope::text as scope, receipt::text as receipt from data_requests where id = ${report.requestId}`
    expect(stored!.kind).toBe('access')
    const subject = contactSubjectRef(secrets, one.memberId, { username: a.username })
    expect(JSON.parse(stored!.scope)).toEqual({ scope: 'contact', subject })
    expect(JSON.parse(stored!.receipt).counts).toEqual(report.counts)
    const [entry] = await stores.db.sql<{ target: string; details: string; row: string }[]>`
      select target, details::text as details, a::text as row from audit_log a
      where action = 'data.access_exported' and details->>'requestId' = ${report.requestId}`
    expect(entry!.target).toBe(subject)
    for (const value of [one.domain, one.memberId, a.username, a.phone, a.firstName]) {
      expect(entry!.row).not.toContain(value)
      expect(stored!.scope + stored!.receipt).not.toContain(value)
    }
  })

  test('D1: a bad request is refused before anything is read', async () => {
    const before = await stores.db.sql`select count(*)::int as n from data_requests`
    await expect(exportSubjectData(deps(), { portal: one.domain })).rejects.toThrow(AccessRequestError)
    await expect(
      exportSubjectData(deps(), request({ account: one.accountId, contact: { remoteId: '1' } })),
    ).rejects.toThrow('narrow to one account or one contact')
    await expect(exportSubjectData(deps(), request({ portal: 'nowhere.bitrix24.ru' }))).rejects.toThrow(
      PortalNotFoundForExportError,
    )
    await expect(exportSubjectData(deps(), request({ account: two.accountId }))).rejects.toThrow(
      AccountNotInPortalError,
    )
    expect(await stores.db.sql`select count(*)::int as n from data_requests`).toEqual(before)
  })
})
