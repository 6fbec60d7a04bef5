import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { connect } from '../../storage/db.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
})
afterAll(() => db.drop())

const past = (ms: number) => new Date(Date.now() - ms)
const future = (ms: number) => new Date(Date.now() + ms)

describe('RetentionDeadlineRepository', () => {
  test('schedule is one deadline per class and subject; a repeat moves it', async () => {
    const first = await repos.retentionDeadlines.schedule({
      dataClass: 'R6',
      subjectType: 'contact',
      subjectId: '1',
      dueAt: future(7 * 86_400_000),
    })
    const moved = await repos.retentionDeadlines.schedule({
      dataClass: 'R6',
      subjectType: 'contact',
      subjectId: '1',
      dueAt: past(1000),
    })
    expect(moved.id).toBe(first.id)
    expect(moved.dueAt.getTime()).toBeLessThan(Date.now())
    expect(await repos.retentionDeadlines.find('R6', 'contact', '1')).toEqual(moved)
  })

  test('claimDue hands out due rows, earliest first, and not again while claimed', async () => {
    await repos.retentionDeadlines.schedule({
      dataClass: 'R1',
      subjectType: 'account',
      subjectId: 'a',
      dueAt: past(5000),
    })
    await repos.retentionDeadlines.schedule({
      dataClass: 'R3',
      subjectType: 'portal',
      subjectId: 'p',
      dueAt: future(60_000),
    })
    const claimed = await repos.retentionDeadlines.claimDue(10)
    expect(claimed.map((d) => d.dataClass)).toEqual(['R1', 'R6'])
    expect(claimed[0]!.claimedUntil!.getTime()).toBeGreaterThan(Date.now())
    expect(await repos.retentionDeadlines.claimDue()).toEqual([])
  })

  test('a lapsed claim makes the row due again', async () => {
    await db.sql`
      update retention_deadlines set claimed_until = now() - interval '1 second' where data_class = 'R1'`
    expect((await repos.retentionDeadlines.claimDue(100, 1)).map((d) => d.dataClass)).toEqual(['R1'])
    await Bun.sleep(10)
    expect((await repos.retentionDeadlines.claimDue()).map((d) => d.dataClass)).toEqual(['R1'])
  })

  test('remove and cancel', async () => {
    const r1 = (await repos.retentionDeadlines.find('R1', 'account', 'a'))!
    expect(await repos.retentionDeadlines.remove(r1.id)).toBe(true)
    expect(await repos.retentionDeadlines.remove(r1.id)).toBe(false)
    expect(await repos.retentionDeadlines.cancel('R3', 'portal', 'p')).toBe(true)
    expect(await repos.retentionDeadlines.cancel('R3', 'portal', 'p')).toBe(false)
    expect(await repos.retentionDeadlines.find('R3', 'portal', 'p')).toBeUndefined()
  })

  test.skipIf(testBackendSet() === 'embedded')('concurrent sweepers claim disjoint rows', async () => {
    await db.sql`delete from retention_deadlines`
    for (let i = 0; i < 40; i++) {
      await repos.retentionDeadlines.schedule({
        dataClass: 'R6',
        subjectType: 'chat',
        subjectId: `${i}`,
        dueAt: past(1000),
      })
    }
    const pools = [connect(db.url, 2), connect(db.url, 2)]
    try {
      const sweep = async (index: number) => {
        const mine = repositories(pools[index]!)
        const got: string[] = []
        for (;;) {
          const rows = await mine.retentionDeadlines.claimDue(3)
          if (rows.length === 0) return got
          got.push(...rows.map((r) => r.subjectId))
        }
      }
      const [a, b] = await Promise.all([sweep(0), sweep(1)])
      expect(a!.length + b!.length).toBe(40)
      expect(new Set([...a!, ...b!]).size).toBe(40)
    } finally {
      await Promise.all(pools.map((pool) => pool.end({ timeout: 1 })))
    }
  })
})
