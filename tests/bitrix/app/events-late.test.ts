/**
 * An event whose write was held up (a database outage) past the portal's patience: Bitrix24 tries an event
 * once (§6.2), so by then it has given up, and a row committed late would land after the chat's next event.
 * The write is rolled back and the portal told 503. The deadline counts from the request's arrival, so a
 * portal lookup stuck behind a reconnecting pool counts as well.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { InboundEventRepository } from '../../../storage/repos/inbound-events.ts'
import * as samples from './samples.ts'
import { createHarness, type Harness, type InstalledPortal, install, post } from './support.ts'

let h: Harness
let p: InstalledPortal
let delayMs = 0

/** The real repository, its insert held up by `delayMs` before it runs (as behind a reconnecting pool). */
class SlowInbox extends InboundEventRepository {
  override async insert(...args: Parameters<InboundEventRepository['insert']>) {
    if (delayMs > 0) await Bun.sleep(delayMs)
    return super.insert(...args)
  }
}

beforeAll(async () => {
  h = await createHarness({
    deps: { options: { eventStoreDeadlineMs: 200 } },
    inbox: (sql, secrets) => new SlowInbox(sql, secrets),
  })
  p = await install(h)
})
afterAll(() => h.close())

const inboxCount = async () =>
  Number((await h.sql`select count(*)::int as n from inbound_events where portal_id = ${p.id}`)[0]!.n)

test('an event not stored within the deadline is rolled back and answered 503; in time it is 200', async () => {
  const auth = { memberId: p.memberId, appToken: p.appToken }
  const before = await inboxCount()
  delayMs = 400
  const late = await post(h, '/bitrix/events', samples.messageAdd(auth))
  expect(late.status).toBe(503)
  expect(await inboxCount()).toBe(before)
  delayMs = 0
  const onTime = await post(h, '/bitrix/events', samples.messageAdd(auth))
  expect(onTime.status).toBe(200)
  expect(await inboxCount()).toBe(before + 1)
})

test('a portal lookup held up past the deadline: 503 and nothing stored (the deadline counts from arrival)', async () => {
  const auth = { memberId: p.memberId, appToken: p.appToken }
  const portals = h.deps.repos.portals
  const lookup = portals.findByMemberId.bind(portals)
  // The real lookup, started late as behind a pool that is still reconnecting.
  portals.findByMemberId = async (...args) => {
    await Bun.sleep(400)
    return lookup(...args)
  }
  try {
    const before = await inboxCount()
    const late = await post(h, '/bitrix/events', samples.messageAdd(auth))
    expect(late.status).toBe(503)
    expect(await inboxCount()).toBe(before)
  } finally {
    portals.findByMemberId = lookup
  }
  expect((await post(h, '/bitrix/events', samples.messageAdd(auth))).status).toBe(200)
})
