import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { connect } from '../../storage/db.ts'
import { ACCOUNT_WORK_CHANNEL, createNotifier } from '../../storage/notify.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
})
afterAll(() => db.drop())

function inbox() {
  const received: string[] = []
  let wake: () => void = () => {}
  return {
    received,
    fn: (payload: string) => {
      received.push(payload)
      wake()
    },
    /** Resolves once `count` payloads are in, or after `ms` with what there is. */
    async wait(count: number, ms = 2000): Promise<string[]> {
      const deadline = Date.now() + ms
      while (received.length < count && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 20)
        })
      }
      return [...received]
    },
  }
}

describe('notify', () => {
  test.skipIf(testBackendSet() === 'embedded')(
    'LISTEN/NOTIFY: a publish on one connection wakes a subscriber on another',
    async () => {
      const other = connect(db.url, 1)
      try {
        const publisher = createNotifier({ sql: db.sql, kind: 'postgres' })
        const subscriber = createNotifier({ sql: other, kind: 'postgres' })
        const box = inbox()
        let listening = 0
        const sub = await subscriber.subscribe(ACCOUNT_WORK_CHANNEL, box.fn, { onListen: () => listening++ })
        expect(listening).toBe(1)
        await publisher.publish(ACCOUNT_WORK_CHANNEL, 'account-1')
        await publisher.publish('some_other_channel', 'ignored')
        await publisher.publish(ACCOUNT_WORK_CHANNEL, 'account-2')
        expect(await box.wait(2)).toEqual(['account-1', 'account-2'])
        await sub.unsubscribe()
        await publisher.publish(ACCOUNT_WORK_CHANNEL, 'after')
        expect(await box.wait(3, 200)).toEqual(['account-1', 'account-2'])
      } finally {
        await other.end({ timeout: 1 })
      }
    },
  )

  test('embedded: in process, shared by every notifier on the same database', async () => {
    const first = createNotifier({ sql: db.sql, kind: 'embedded' })
    const second = createNotifier({ sql: db.sql, kind: 'embedded' })
    // Never queried: only its identity matters here.
    const otherSql = connect(db.url, 1)
    const elsewhere = createNotifier({ sql: otherSql, kind: 'embedded' })
    const box = inbox()
    const stranger = inbox()
    let listening = 0
    const sub = await second.subscribe('wake', box.fn, { onListen: () => listening++ })
    await elsewhere.subscribe('wake', stranger.fn)
    expect(listening).toBe(1)
    const published = first.publish('wake', 'a')
    // Like a NOTIFY, delivery is not inside the publisher's call.
    expect(box.received).toEqual([])
    await published
    await first.publish('wake')
    expect(await box.wait(2)).toEqual(['a', ''])
    expect(stranger.received).toEqual([])
    await sub.unsubscribe()
    await first.publish('wake', 'b')
    expect(await box.wait(3, 100)).toEqual(['a', ''])
    await otherSql.end({ timeout: 1 })
  })

  test('a throwing subscriber is reported, not thrown into the connection', async () => {
    const notifier = createNotifier({ sql: db.sql, kind: db.backend === 'real' ? 'postgres' : 'embedded' })
    const errors: unknown[] = []
    const box = inbox()
    const failing = await notifier.subscribe(
      'olchat_test_throw',
      () => {
        throw new Error('subscriber bug')
      },
      { onError: (error) => errors.push(error) },
    )
    const working = await notifier.subscribe('olchat_test_throw', box.fn)
    await notifier.publish('olchat_test_throw', 'x')
    expect(await box.wait(1)).toEqual(['x'])
    expect(errors).toHaveLength(1)
    await failing.unsubscribe()
    await working.unsubscribe()
  })
})
