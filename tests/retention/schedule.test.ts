import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { defaultSweeps, Retention } from '../../src/retention/retention.ts'
import { SWEEP_SUBJECT, SweepSchedule } from '../../src/retention/schedule.ts'
import type { Sweep, SweepOutcome } from '../../src/retention/sweep.ts'
import { seedAccount, seedChat } from '../storage/fixtures.ts'
import { DAY, openRetentionStores, type RetentionStores } from './support.ts'

let stores: RetentionStores
beforeAll(async () => {
  stores = await openRetentionStores()
})
afterAll(() => stores.close())
beforeEach(async () => {
  await stores.db.sql`delete from retention_deadlines`
})

/** A sweep that counts its runs and answers from a script (the last answer repeats). */
function countingSweep(name: string, answers: Array<SweepOutcome | Error>, intervalMs = 3_600_000) {
  const sweep = {
    rule: 'R6' as const,
    name,
    intervalMs,
    runs: 0,
    async run(): Promise<SweepOutcome> {
      const answer = answers[Math.min(sweep.runs, answers.length - 1)]!
      sweep.runs++
      if (answer instanceof Error) throw answer
      return answer
    },
  }
  return sweep
}

const done: SweepOutcome = { deleted: {}, more: false }

function retention(sweeps: Sweep[], options: Partial<ConstructorParameters<typeof Retention>[1]> = {}) {
  return new Retention(
    { sql: stores.db.sql, repos: stores.repos, files: stores.files, cache: stores.cache, fileTtlMs: 60_000 },
    { retryMs: 60_000, ...options },
    sweeps,
  )
}

async function dueInMs(name: string): Promise<number> {
  const [row] = await stores.db.sql<{ ms: number }[]>`
    select (extract(epoch from due_at - now()) * 1000)::float8 as ms from retention_deadlines
    where subject_type = ${SWEEP_SUBJECT} and subject_id = ${name}`
  return row!.ms
}

describe('retention schedule: durable deadlines in PostgreSQL', () => {
  test('R3, R5–R8: every sweep gets one deadline row, due at once; a finished sweep is next due after its interval', async () => {
    const a = countingSweep('a', [done], 3_600_000)
    const b = countingSweep('b', [done], 300_000)
    const service = retention([a, b])
    const round = await service.runDue()
    expect(round).toMatchObject({ ran: 2, failed: 0 })
    expect([a.runs, b.runs]).toEqual([1, 1])
    expect(await dueInMs('a')).toBeGreaterThan(3_590_000)
    expect(await dueInMs('b')).toBeGreaterThan(290_000)
    // The next deadline is read back from the database: b's, in about five minutes.
    expect(round.nextInMs!).toBeGreaterThan(290_000)
    expect(round.nextInMs!).toBeLessThanOrEqual(300_000)
    expect((await service.runDue()).ran).toBe(0)
    await retention([a, b]).schedule.ensure([a, b])
    const rows = await stores.db.sql`select 1 from retention_deadlines`
    expect(rows.length).toBe(2)
  })

  test('R3, R5–R8: a sweep that stopped at its budget is due again at once; a failed one after the retry delay, the others unharmed', async () => {
    const busy = countingSweep('busy', [{ deleted: { rows: 10 }, more: true }, done])
    const broken = countingSweep('broken', [new Error('disk full')])
    const fine = countingSweep('fine', [done])
    const service = retention([busy, broken, fine])
    const round = await service.runDue()
    expect(round).toMatchObject({ ran: 3, failed: 1 })
    expect((round.reports.find((r) => r.name === 'broken')!.error as Error).message).toBe('disk full')
    expect(await dueInMs('busy')).toBeLessThanOrEqual(0)
    expect(await dueInMs('broken')).toBeGreaterThan(50_000)
    expect(round.nextInMs!).toBeLessThanOrEqual(0)
    await service.runDue()
    expect([busy.runs, broken.runs, fine.runs]).toEqual([2, 1, 1])
  })

  test('R3, R5–R8: two processes sweeping at once run each sweep once (claimed rows are skipped)', async () => {
    const sweeps = ['one', 'two', 'three', 'four'].map((name) => countingSweep(name, [done]))
    const slow = sweeps.map((sweep) => ({
      ...sweep,
      run: async () => {
        await Bun.sleep(50)
        return sweep.run()
      },
    }))
    const [first, second] = await Promise.all([retention(slow).runDue(), retention(slow).runDue()])
    expect(first.ran + second.ran).toBe(4)
    expect(sweeps.map((sweep) => sweep.runs)).toEqual([1, 1, 1, 1])
  })

  test('R3, R5–R8: a sweeper that died holding a claim loses nothing: the row is due again once the claim lapses', async () => {
    const sweep = countingSweep('crashy', [done])
    const schedule = new SweepSchedule(stores.db.sql, 60_000)
    await schedule.ensure([sweep])
    const [claim] = await schedule.claimDue(10)
    expect(claim!.name).toBe('crashy')
    // The claiming process dies here. Another one sees the row as claimed, not due, until the claim lapses.
    const survivor = retention([sweep])
    expect((await survivor.runDue()).ran).toBe(0)
    expect((await survivor.schedule.nextInMs())!).toBeGreaterThan(50_000)
    await stores.db.sql`update retention_deadlines set claimed_until = now() - interval '1 second'`
    expect((await survivor.runDue()).ran).toBe(1)
    expect(sweep.runs).toBe(1)
    // The dead process's claim is fenced off: its late reschedule changes nothing.
    expect(await schedule.reschedule(claim!, 0)).toBe(false)
    expect(await dueInMs('crashy')).toBeGreaterThan(3_500_000)
  })

  test('R3, R5–R8: deadlines of other kinds in the same table are not claimed by the sweeper', async () => {
    await stores.repos.retentionDeadlines.schedule({
      dataClass: 'R6',
      subjectType: 'contact',
      subjectId: '42',
      dueAt: new Date(Date.now() - DAY),
    })
    const round = await retention([]).runDue()
    expect(round.ran).toBe(0)
    const [row] = await stores.db.sql<{ claimedUntil: Date | null }[]>`
      select claimed_until from retention_deadlines where subject_type = 'contact'`
    expect(row!.claimedUntil).toBeNull()
  })

  test('R3, R5–R8: the real sweeps run on the schema, each once, and leave live data alone', async () => {
    const account = await seedAccount(stores.repos)
    const chat = await seedChat(stores.repos, account.id)
    await stores.repos.messages.recordInbound({
      accountId: account.id,
      chatId: chat.id,
      originId: 'live',
      sentAt: new Date(),
    })
    const service = new Retention({
      sql: stores.db.sql,
      repos: stores.repos,
      files: stores.files,
      cache: stores.cache,
      fileTtlMs: 60_000,
    })
    const round = await service.runDue()
    expect(round.reports.map((r) => `${r.rule}:${r.name}`).sort()).toEqual(
      defaultSweeps.map((s) => `${s.rule}:${s.name}`).sort(),
    )
    expect(round.failed).toBe(0)
    const [left] = await stores.db.sql<
      { n: number }[]
    >`select count(*)::int as n from messages where origin_id = 'live'`
    expect(left!.n).toBe(1)
    expect((await service.sweepAll()).every((report) => report.outcome?.more === false)).toBe(true)
  })
})
