import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { connect } from '../../storage/db.ts'
import { InboundEventNotFoundError, InboundEventRepository } from '../../storage/repos/inbound-events.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { rawText, repositories, secrets, seedPortal } from './fixtures.ts'

let db: TestDatabase
let inbox: InboundEventRepository
let portalId: string
let otherPortalId: string
beforeAll(async () => {
  db = await createTestDatabase()
  inbox = new InboundEventRepository(db.sql, secrets, { maxAttempts: 3 })
  const repos = repositories(db.sql)
  portalId = (await seedPortal(repos)).id
  otherPortalId = (await seedPortal(repos)).id
})
afterAll(() => db.drop())
beforeEach(async () => {
  await db.sql`delete from inbound_events`
})

let sequence = 0
const event = (orderKey: string | null = null, portal = portalId) => ({
  portalId: portal,
  event: 'ONIMCONNECTORMESSAGEADD',
  dedupKey: `dedup-${++sequence}`,
  orderKey,
  payload: { data: { text: `operator text ${sequence}` } },
})

describe('InboundEventRepository', () => {
  test('S4: stores once per dedup key, the body sealed', async () => {
    const input = event()
    const first = await inbox.insert(input)
    expect(first.created).toBe(true)
    expect(await inbox.insert({ ...input, payload: { other: true } })).toEqual({
      id: undefined,
      created: false,
    })
    expect(await rawText(db.sql, 'inbound_events')).not.toContain('operator text')
    const stored = await inbox.get(first.id!)
    expect(stored).toMatchObject({ status: 'pending', attempts: 0, payload: input.payload, orderKey: null })
  })

  test('R8: claim leases and counts an attempt; complete drops the body and keeps a note', async () => {
    const { id } = await inbox.insert(event())
    const [claimed] = await inbox.claim(10, 60_000)
    expect(claimed).toMatchObject({ id, attempts: 1 })
    expect(claimed!.lockedUntil).not.toBeNull()
    expect(await inbox.claim(10, 60_000)).toEqual([])
    expect(await inbox.complete(id!, 'no account bound')).toBe(true)
    expect(await inbox.get(id!)).toMatchObject({
      status: 'done',
      payload: null,
      lastError: 'no account bound',
    })
    expect(await inbox.complete(id!)).toBe(false)
  })

  test('fail: retried after the delay, given up at maxAttempts or when permanent', async () => {
    const { id } = await inbox.insert(event())
    await inbox.claim()
    expect(await inbox.fail(id!, 'boom', 60_000)).toBe('pending')
    expect(await inbox.claim()).toEqual([])
    await db.sql`update inbound_events set available_at = now() where id = ${id!}`
    await inbox.claim()
    expect(await inbox.fail(id!, 'boom', 0)).toBe('pending')
    await inbox.claim()
    expect(await inbox.fail(id!, 'boom again', 0)).toBe('failed')
    expect(await inbox.get(id!)).toMatchObject({
      status: 'failed',
      attempts: 3,
      payload: null,
      lastError: 'boom again',
    })
    const other = await inbox.insert(event())
    await inbox.claim()
    expect(await inbox.fail(other.id!, 'inactive', 0, { permanent: true })).toBe('failed')
    await expect(inbox.fail('999999', 'x', 0)).rejects.toBeInstanceOf(InboundEventNotFoundError)
  })

  test('order: a later row of a key waits for an earlier one held elsewhere or backing off', async () => {
    const a1 = await inbox.insert(event('chat-a'))
    const a2 = await inbox.insert(event('chat-a'))
    const b1 = await inbox.insert(event('chat-b'))
    const otherPortal = await inbox.insert(event('chat-a', otherPortalId))
    // One claim may take both rows of a chat: the caller handles them in order.
    const first = await inbox.claim(1)
    expect(first.map((r) => r.id)).toEqual([a1.id!])
    // a1 is held by "another worker": a2 must wait, other chats and portals go ahead.
    expect((await inbox.claim(10)).map((r) => r.id)).toEqual([b1.id!, otherPortal.id!])
    await inbox.fail(a1.id!, 'later', 60_000)
    expect(await inbox.claim(10)).toEqual([])
    await inbox.release(a2.id!)
    await db.sql`update inbound_events set available_at = now() where id = ${a1.id!}`
    expect((await inbox.claim(10)).map((r) => r.id)).toEqual([a1.id!, a2.id!])
  })

  test('release hands a row back without spending an attempt', async () => {
    const { id } = await inbox.insert(event())
    await inbox.claim()
    await inbox.release(id!)
    expect(await inbox.get(id!)).toMatchObject({ attempts: 0, lockedUntil: null, status: 'pending' })
  })

  test('purgeFinished drops old finished rows; countByStatus counts', async () => {
    const done = await inbox.insert(event())
    const pending = await inbox.insert(event())
    await inbox.claim(1)
    await inbox.complete(done.id!)
    expect(await inbox.countByStatus()).toEqual({ pending: 1, done: 1, failed: 0 })
    expect(await inbox.purgeFinished(new Date(Date.now() - 60_000))).toBe(0)
    expect(await inbox.purgeFinished(new Date(Date.now() + 60_000))).toBe(1)
    expect((await inbox.get(pending.id!)).status).toBe('pending')
  })

  test.skipIf(testBackendSet() === 'embedded')(
    'two workers never claim the same row (SKIP LOCKED)',
    async () => {
      for (let i = 0; i < 40; i++) await inbox.insert(event())
      const other = connect(db.url, 2)
      try {
        const second = new InboundEventRepository(other, secrets)
        const [a, b] = await Promise.all([inbox.claim(25), second.claim(25)])
        const ids = [...a, ...b].map((r) => r.id)
        expect(new Set(ids).size).toBe(ids.length)
        expect(ids.length).toBe(40)
      } finally {
        await other.end({ timeout: 1 })
      }
    },
  )
})
