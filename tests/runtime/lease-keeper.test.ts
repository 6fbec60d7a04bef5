import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { SimulatedClock } from 'xstate'
import { LeaseKeeper, type LeaseRepo, type LostReason } from '../../src/runtime/lease-keeper.ts'
import { connect } from '../../storage/db.ts'
import { AccountLeaseRepository, type HeldLease } from '../../storage/repos/account-leases.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { repositories, seedAccount, seedPortal } from '../storage/fixtures.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

// Short leases keep the suite fast: local deadline = sent + 400 ms, expiry on the database at + 600 ms.
const fast = { ttlMs: 600, renewEveryMs: 100, safetyMarginMs: 200 }

type Mode = 'up' | 'down' | 'hang' | 'lose-replies'

/** The repository behind a switch: reachable, refusing at once, hanging, or executing but never answering. */
function flaky(repo: LeaseRepo) {
  const state = { mode: 'up' as Mode, lastGoodSentAt: 0, pending: [] as (() => void)[] }
  const stall = () =>
    new Promise<never>((_, reject) => {
      state.pending.push(() => reject(new Error('connection reset')))
    })
  async function call<T>(run: () => Promise<T>): Promise<T> {
    if (state.mode === 'down') throw new Error('database unreachable')
    if (state.mode === 'hang') return stall()
    const result = await run()
    if (state.mode === 'lose-replies') return stall()
    return result
  }
  const wrapped: LeaseRepo = {
    acquireAvailable: (...args) => {
      const sentAt = performance.now()
      return call(async () => {
        const got = await repo.acquireAvailable(...args)
        if (got.length > 0) state.lastGoodSentAt = sentAt
        return got
      })
    },
    renew: (...args) => {
      const sentAt = performance.now()
      return call(async () => {
        const renewed = await repo.renew(...args)
        if (renewed.length > 0) state.lastGoodSentAt = sentAt
        return renewed
      })
    },
    release: (...args) => call(() => repo.release(...args)),
    heartbeat: (...args) => call(() => repo.heartbeat(...args)),
    forgetInstance: (...args) => call(() => repo.forgetInstance(...args)),
  }
  return {
    repo: wrapped,
    state,
    set(mode: Mode) {
      state.mode = mode
      if (mode === 'up' || mode === 'down') for (const reject of state.pending.splice(0)) reject()
    },
  }
}

interface Events {
  acquired: Map<string, string>
  lost: { accountId: string; reason: LostReason; at: number }[]
}

function keeperOf(
  instanceId: string,
  repo: LeaseRepo,
  options: ConstructorParameters<typeof LeaseKeeper>[0]['options'] = fast,
  hooks: { onLost?: (accountId: string, reason: LostReason) => void | Promise<void> } = {},
) {
  const events: Events = { acquired: new Map(), lost: [] }
  const keeper = new LeaseKeeper({
    repo,
    instanceId,
    options,
    onAcquired: (accountId, token) => events.acquired.set(accountId, token),
    onLost: (accountId, reason) => {
      events.acquired.delete(accountId)
      events.lost.push({ accountId, reason, at: performance.now() })
      return hooks.onLost?.(accountId, reason)
    },
  })
  keepers.push(keeper)
  return { keeper, events }
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<number> {
  const start = performance.now()
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error('condition not met in time')
    await Bun.sleep(5)
  }
  return performance.now()
}

let db: TestDatabase
let repos: Repositories
let leases: AccountLeaseRepository
let keepers: LeaseKeeper[] = []
let flakies: ReturnType<typeof flaky>[] = []
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  leases = repos.accountLeases
})
afterAll(() => db.drop())
beforeEach(async () => {
  await db.sql`delete from portals`
})
afterEach(async () => {
  for (const f of flakies) f.set('up')
  await Promise.all(keepers.map((keeper) => keeper.stop()))
  keepers = []
  flakies = []
})

const flakyRepo = () => {
  const f = flaky(leases)
  flakies.push(f)
  return f
}

async function seedAccounts(count: number): Promise<string[]> {
  const portal = await seedPortal(repos)
  const ids: string[] = []
  for (let i = 0; i < count; i++) ids.push((await seedAccount(repos, portal.id)).id)
  return ids.sort()
}

describe('LeaseKeeper on the database', () => {
  test('onLost fires before the lease expires when renewals fail', async () => {
    const accounts = await seedAccounts(3)
    const a = flakyRepo()
    const live: Promise<boolean>[] = []
    const { keeper, events } = keeperOf('a', a.repo, fast, {
      onLost: (accountId) => void live.push(leases.find(accountId).then((lease) => lease!.live)),
    })
    keeper.start()
    await until(() => events.acquired.size === 3)
    await Bun.sleep(150)
    a.set('down')
    await until(() => events.lost.length === 3)
    expect(events.lost.map((e) => e.reason)).toEqual(Array(3).fill('renewal-overdue'))
    // Given up by the local deadline (last good renewal sent + 400 ms), so still live on the database.
    expect(await Promise.all(live)).toEqual([true, true, true])
    for (const { at } of events.lost) expect(at - a.state.lastGoodSentAt).toBeLessThan(fast.ttlMs - 100)
    expect(keeper.heldAccounts()).toEqual([])
    expect(await leases.listOwned('a')).toHaveLength(3)
    // Another keeper gets them once they expire, with higher tokens; the refused keeper takes nothing.
    const { keeper: other, events: otherEvents } = keeperOf('b', leases)
    other.start()
    await until(() => otherEvents.acquired.size === 3)
    expect([...otherEvents.acquired.keys()].sort()).toEqual(accounts)
    expect([...otherEvents.acquired.values()]).toEqual(['2', '2', '2'])
    expect(events.acquired.size).toBe(0)
  })

  test('a renewal that hangs does not delay onLost', async () => {
    await seedAccounts(2)
    const a = flakyRepo()
    const { keeper, events } = keeperOf('a', a.repo)
    keeper.start()
    await until(() => events.acquired.size === 2)
    await Bun.sleep(150)
    a.set('hang')
    const lost = await until(() => events.lost.length === 2)
    expect(lost - a.state.lastGoodSentAt).toBeLessThan(fast.ttlMs - 100)
    expect((await leases.listOwned('a')).length).toBe(2)
  })

  test.skipIf(testBackendSet() === 'embedded')(
    'a keeper whose connection is gone (ended pool) gives its accounts up before expiry',
    async () => {
      await seedAccounts(2)
      const pool = connect(db.url, 1)
      const { keeper, events } = keeperOf('a', new AccountLeaseRepository(pool))
      keeper.start()
      await until(() => events.acquired.size === 2)
      await pool.end({ timeout: 0 })
      await until(() => events.lost.length === 2)
      const owned = await leases.listOwned('a')
      expect(owned).toHaveLength(2)
      const [row] = await db.sql<{ msLeft: number }[]>`
        select extract(epoch from min(expires_at) - now()) * 1000 as ms_left from account_leases`
      expect(Number(row!.msLeft)).toBeGreaterThan(0)
    },
  )

  test('a keeper that stops renewing is replaced within ttl + renew interval', async () => {
    const accounts = await seedAccounts(5)
    const a = flakyRepo()
    const { keeper, events } = keeperOf('a', a.repo)
    keeper.start()
    await until(() => events.acquired.size === 5)
    const { keeper: other, events: otherEvents } = keeperOf('b', leases)
    other.start()
    await Bun.sleep(200)
    expect(otherEvents.acquired.size).toBe(0)
    // Dead to the world: nothing it sends arrives any more.
    a.set('hang')
    const done = await until(() => otherEvents.acquired.size === 5)
    expect(done - a.state.lastGoodSentAt).toBeLessThan(fast.ttlMs + fast.renewEveryMs + 150)
    expect([...otherEvents.acquired.keys()].sort()).toEqual(accounts)
    for (const token of otherEvents.acquired.values()) expect(token).toBe('2')
  })

  test('stop() closes accounts, then releases at once: the other keeper takes over', async () => {
    await seedAccounts(4)
    const slow = { ttlMs: 10_000, renewEveryMs: 100, safetyMarginMs: 2_000 }
    const ownerWhileClosing: (string | null)[] = []
    const { keeper, events } = keeperOf('a', leases, slow, {
      onLost: async (accountId) => {
        await Bun.sleep(30)
        ownerWhileClosing.push(await leases.owner(accountId))
      },
    })
    keeper.start()
    await until(() => events.acquired.size === 4)
    const { keeper: other, events: otherEvents } = keeperOf('b', leases, slow)
    other.start()
    await Bun.sleep(150)
    expect(otherEvents.acquired.size).toBe(0)
    const stopAt = performance.now()
    await keeper.stop()
    expect(events.lost.map((e) => e.reason)).toEqual(Array(4).fill('stopping'))
    expect(ownerWhileClosing).toEqual(['a', 'a', 'a', 'a'])
    expect(await leases.listOwned('a')).toEqual([])
    expect(await leases.liveInstances(60_000)).toMatchObject([{ id: 'b' }])
    const done = await until(() => otherEvents.acquired.size === 4)
    // One round of the other keeper, far below the 10 s the leases would otherwise have run.
    expect(done - stopAt).toBeLessThan(slow.renewEveryMs + 400)
  })

  test('stop() keeps the lease of an account whose stop did not finish', async () => {
    const [stuck, fine] = await seedAccounts(2)
    const { keeper, events } = keeperOf(
      'a',
      leases,
      { ...fast, stopTimeoutMs: 100 },
      {
        onLost: (accountId) => (accountId === stuck ? new Promise<void>(() => {}) : undefined),
      },
    )
    keeper.start()
    await until(() => events.acquired.size === 2)
    await keeper.stop()
    expect((await leases.listOwned('a')).map((lease) => lease.accountId)).toEqual([stuck!])
    expect(await leases.owner(fine!)).toBeNull()
  })

  test('release() frees chosen accounts at once without onLost', async () => {
    const [one, two] = await seedAccounts(2)
    await repos.accounts.setHealth(two!, 'disconnected')
    const { keeper, events } = keeperOf('a', leases, { ...fast, capacity: 5 })
    keeper.start()
    await until(() => events.acquired.size === 1)
    expect(keeper.fencingToken(one!)).toBe('1')
    await repos.accounts.setHealth(one!, 'disconnected')
    await keeper.release([one!])
    expect(keeper.heldAccounts()).toEqual([])
    expect(keeper.fencingToken(one!)).toBeNull()
    expect(await leases.owner(one!)).toBeNull()
    expect(events.lost).toEqual([])
  })

  test('two keepers under flapping connectivity never run the same account at once', async () => {
    const accounts = await seedAccounts(24)
    const running = new Map<string, string>()
    const overlaps: string[] = []
    const lastRunBy = new Map<string, string>()
    let handovers = 0
    const track = (instance: string) => ({
      onAcquired: (accountId: string) => {
        const other = running.get(accountId)
        if (other && other !== instance) overlaps.push(`${accountId} ${other}+${instance}`)
        if (lastRunBy.has(accountId) && lastRunBy.get(accountId) !== instance) handovers++
        running.set(accountId, instance)
        lastRunBy.set(accountId, instance)
      },
      onLost: (accountId: string) => {
        if (running.get(accountId) === instance) running.delete(accountId)
      },
    })
    const a = flakyRepo()
    const b = flakyRepo()
    const make = (instance: string, repo: LeaseRepo) => {
      const keeper = new LeaseKeeper({
        repo,
        instanceId: instance,
        options: { ...fast, capacity: 16, batchSize: 5 },
        ...track(instance),
      })
      keepers.push(keeper)
      keeper.start()
      return keeper
    }
    make('a', a.repo)
    make('b', b.repo)
    // Outages longer than the local deadline (400 ms), so accounts really move between the two.
    const script: [Mode, Mode, number][] = [
      ['up', 'up', 300],
      ['down', 'up', 700],
      ['up', 'hang', 700],
      ['lose-replies', 'up', 700],
      ['up', 'down', 250],
      ['hang', 'lose-replies', 700],
    ]
    for (const [modeA, modeB, ms] of script) {
      a.set(modeA)
      b.set(modeB)
      await Bun.sleep(ms)
    }
    a.set('up')
    b.set('up')
    await until(() => running.size === accounts.length, 3000)
    expect(overlaps).toEqual([])
    expect(handovers).toBeGreaterThan(0)
    // What each keeper runs is exactly what the database says it owns.
    for (const instance of ['a', 'b']) {
      const owned = (await leases.listOwned(instance)).map((lease) => lease.accountId)
      const local = [...running].filter(([, who]) => who === instance).map(([id]) => id)
      expect(owned.sort()).toEqual(local.sort())
    }
  })
})

/** A lease repository in memory whose calls the test answers by hand. */
function scriptedRepo() {
  const calls: { name: string; resolve: (value: unknown) => void }[] = []
  const wait = <T>(name: string) =>
    new Promise<T>((resolve) => calls.push({ name, resolve: resolve as (value: unknown) => void }))
  const repo: LeaseRepo = {
    acquireAvailable: () => wait('acquire'),
    renew: () => wait('renew'),
    release: () => wait('release'),
    heartbeat: async () => {},
    forgetInstance: async () => {},
  }
  return { repo, calls }
}

const lease = (accountId: string): HeldLease => ({ accountId, fencingToken: '7', expiresAt: new Date() })
const flush = () => Bun.sleep(0)

describe('LeaseKeeper timing (simulated clock)', () => {
  test('the local deadline is sent-time + ttl − margin, kept while a renewal hangs', async () => {
    const clock = new SimulatedClock()
    const { repo, calls } = scriptedRepo()
    const lost: [string, LostReason, number][] = []
    const keeper = new LeaseKeeper({
      repo,
      instanceId: 'a',
      clock,
      onAcquired: () => {},
      onLost: (accountId, reason) => void lost.push([accountId, reason, clock.now()]),
    })
    keeper.start()
    clock.increment(0)
    await flush()
    expect(calls.map((c) => c.name)).toEqual(['acquire'])
    // The answer takes 1 s: the deadline still counts from when the request was sent.
    clock.increment(1000)
    calls.shift()!.resolve([lease('x')])
    await flush()
    expect(keeper.heldAccounts()).toEqual(['x'])
    clock.set(5000)
    await flush()
    expect(calls.map((c) => c.name)).toEqual(['renew'])
    // The renewal never answers; the deadline (0 + 20 s − 5 s) is kept by its own timer.
    clock.set(14_999)
    expect(lost).toEqual([])
    clock.set(15_000)
    expect(lost).toEqual([['x', 'renewal-overdue', 15_000]])
    // A late answer for an account already given up does not bring it back.
    calls.shift()!.resolve([lease('x')])
    await flush()
    expect(keeper.heldAccounts()).toEqual([])
  })

  test('a renewal that returns without an account means another instance has it', async () => {
    const clock = new SimulatedClock()
    const { repo, calls } = scriptedRepo()
    const lost: string[] = []
    const keeper = new LeaseKeeper({
      repo,
      instanceId: 'a',
      clock,
      onAcquired: () => {},
      onLost: (accountId, reason) => void lost.push(`${accountId}:${reason}`),
    })
    keeper.start()
    clock.increment(0)
    await flush()
    calls.shift()!.resolve([lease('x'), lease('y')])
    await flush()
    clock.set(5000)
    await flush()
    calls.shift()!.resolve([lease('y')])
    await flush()
    expect(lost).toEqual(['x:taken'])
    expect(keeper.heldAccounts()).toEqual(['y'])
    // Renewed at 5 s: now held until 20 s.
    clock.set(10_000)
    await flush()
    clock.set(19_999)
    expect(lost).toEqual(['x:taken'])
    clock.set(20_000)
    expect(lost).toEqual(['x:taken', 'y:renewal-overdue'])
  })

  test('fencingToken() checks the deadline itself, before timers catch up (after a freeze)', async () => {
    let now = 0
    const timers: (() => void)[] = []
    const frozen = {
      now: () => now,
      setTimeout: (fn: () => void) => timers.push(fn),
      clearTimeout: () => {},
    }
    const { repo, calls } = scriptedRepo()
    const lost: string[] = []
    const keeper = new LeaseKeeper({
      repo,
      instanceId: 'a',
      clock: frozen,
      onAcquired: () => {},
      onLost: (accountId) => void lost.push(accountId),
    })
    keeper.start()
    timers.shift()!()
    await flush()
    calls.shift()!.resolve([lease('x')])
    await flush()
    expect(keeper.fencingToken('x')).toBe('7')
    now = 60_000
    expect(keeper.fencingToken('x')).toBeNull()
    expect(lost).toEqual(['x'])
  })

  test('batches that keep coming back full do not hold the renewal back past renewEveryMs', async () => {
    // 10,000 accounts at startup: each batch answers slowly (the pool is busy starting the accounts of the
    // batch before) and there is always more to take. The round must stop taking to renew in time.
    const clock = new SimulatedClock()
    const pending: { name: string; answer: () => void }[] = []
    const repo: LeaseRepo = {
      acquireAvailable: (_instance, limit) =>
        new Promise((resolve) =>
          pending.push({
            name: 'acquire',
            answer: () => resolve(Array.from({ length: limit }, () => lease(`x${taken++}`))),
          }),
        ),
      renew: (_instance, leases) =>
        new Promise((resolve) =>
          pending.push({ name: 'renew', answer: () => resolve(leases.map((l) => lease(l.accountId))) }),
        ),
      release: async () => [],
      heartbeat: async () => {},
      forgetInstance: async () => {},
    }
    let taken = 0
    const lost: string[] = []
    const renewalsSentAt: number[] = []
    const keeper = new LeaseKeeper({
      repo,
      instanceId: 'a',
      clock,
      options: { batchSize: 2 },
      onAcquired: () => {},
      onLost: (accountId) => void lost.push(accountId),
    })
    keeper.start()
    // Two simulated minutes, every call answered 2 s after it was sent.
    while (clock.now() < 120_000) {
      clock.increment(0)
      await flush()
      const call = pending.shift()
      if (!call) throw new Error(`no call pending at ${clock.now()} ms`)
      if (call.name === 'renew') renewalsSentAt.push(clock.now())
      clock.increment(2_000)
      call.answer()
      await flush()
    }
    expect(lost).toEqual([])
    expect(keeper.heldAccounts()).toHaveLength(taken)
    // First renewal once the first round's 5 s are used up (its third batch answered at 6 s), then one at
    // least every 5 s + one batch.
    expect(renewalsSentAt[0]).toBe(6_000)
    const gaps = renewalsSentAt.slice(1).map((at, i) => at - renewalsSentAt[i]!)
    expect(Math.max(...gaps)).toBeLessThanOrEqual(5_000 + 2_000)
    expect(renewalsSentAt.length).toBeGreaterThan(15)
  })

  test('options that would drop every lease before its renewal are refused', () => {
    const { repo } = scriptedRepo()
    const make = (options: ConstructorParameters<typeof LeaseKeeper>[0]['options']) =>
      new LeaseKeeper({ repo, instanceId: 'a', options, onAcquired: () => {}, onLost: () => {} })
    expect(() => make({ ttlMs: 10_000, renewEveryMs: 5_000, safetyMarginMs: 5_000 })).toThrow(RangeError)
    expect(() => make({ safetyMarginMs: 0 })).toThrow(RangeError)
    expect(() => make({})).not.toThrow()
  })
})
