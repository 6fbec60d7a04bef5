import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { connect } from '../../storage/db.ts'
import { AccountLeaseRepository, LeaseLostError } from '../../storage/repos/account-leases.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories, seedAccount, seedPortal } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let leases: AccountLeaseRepository
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  leases = repos.accountLeases
})
afterAll(() => db.drop())
// Each test starts from accounts of its own: every free lease in the table is up for grabs.
beforeEach(async () => {
  await db.sql`delete from portals`
})

async function seedAccounts(count: number): Promise<string[]> {
  const portal = await seedPortal(repos)
  const ids: string[] = []
  for (let i = 0; i < count; i++) ids.push((await seedAccount(repos, portal.id)).id)
  return ids.sort()
}

const ids = (rows: { accountId: string }[]) => rows.map((row) => row.accountId).sort()
const expire = (accountId: string) => db.sql`
  update account_leases set expires_at = now() - interval '1 millisecond' where account_id = ${accountId}`

describe('AccountLeaseRepository', () => {
  test('acquireAvailable takes free leases up to the limit, token 1, expiry by database clock', async () => {
    const accounts = await seedAccounts(3)
    const got = await leases.acquireAvailable('a', 2, 60_000)
    expect(got).toHaveLength(2)
    expect(got.map((lease) => lease.fencingToken)).toEqual(['1', '1'])
    const [times] = await db.sql<{ ttlMs: number; fromNowMs: number }[]>`
      select extract(epoch from expires_at - acquired_at) * 1000 as ttl_ms,
        extract(epoch from expires_at - now()) * 1000 as from_now_ms
      from account_leases where account_id = ${got[0]!.accountId}`
    expect(Number(times!.ttlMs)).toBe(60_000)
    expect(Number(times!.fromNowMs)).toBeGreaterThan(59_000)
    expect(ids(await leases.listOwned('a'))).toEqual(ids(got))
    expect(await leases.owner(got[0]!.accountId)).toBe('a')
    const rest = accounts.filter((id) => !ids(got).includes(id))
    expect(await leases.owner(rest[0]!)).toBeNull()
    expect(await leases.acquireAvailable('a', 0, 60_000)).toEqual([])
  })

  test('never takes a live lease; disconnected accounts are left alone', async () => {
    const [live, off, free] = await seedAccounts(3)
    await repos.accounts.setHealth(off!, 'disconnected')
    const first = await leases.acquireAvailable('a', 1, 60_000)
    const taken = first[0]!.accountId
    const second = await leases.acquireAvailable('b', 10, 60_000)
    expect(ids(second)).not.toContain(taken)
    expect(ids(second)).not.toContain(off)
    expect(ids([...first, ...second])).toEqual([live!, free!].sort())
    expect(await leases.acquireAvailable('c', 10, 60_000)).toEqual([])
  })

  test('after expiry another instance takes over with a higher token, the old one fenced off', async () => {
    const [account] = await seedAccounts(1)
    const [old] = await leases.acquireAvailable('a', 1, 60_000)
    await expire(account!)
    expect(await leases.owner(account!)).toBeNull()
    const [fresh] = await leases.acquireAvailable('b', 1, 60_000)
    expect(fresh!.accountId).toBe(account!)
    expect(BigInt(fresh!.fencingToken)).toBeGreaterThan(BigInt(old!.fencingToken))
    expect(await leases.renew('a', [old!], 60_000)).toEqual([])
    expect(await leases.owner(account!)).toBe('b')
    const error = await leases.assertFence(account!, old!.fencingToken).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LeaseLostError)
    expect(error).toMatchObject({ reason: 'superseded', accountId: account })
    await leases.assertFence(account!, fresh!.fencingToken)
  })

  test('renew extends live leases and one that expired untouched, not another owner’s', async () => {
    const [one, two] = await seedAccounts(2)
    const held = await leases.acquireAvailable('a', 2, 1_000)
    await expire(two!)
    const renewed = await leases.renew('a', held, 60_000)
    expect(ids(renewed)).toEqual([one!, two!].sort())
    for (const lease of renewed) expect(lease.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50_000)
    expect(renewed.map((lease) => lease.fencingToken)).toEqual(['1', '1'])
    expect(await leases.renew('b', held, 60_000)).toEqual([])
    // The right owner with a stale token (a lease re-taken by the same instance) is not renewed either.
    expect(await leases.renew('a', [{ accountId: one!, fencingToken: '0' }], 60_000)).toEqual([])
    expect(await leases.renew('a', [], 60_000)).toEqual([])
  })

  test('release frees at once: another instance takes the account on its next attempt', async () => {
    const [one, two, three] = await seedAccounts(3)
    await leases.acquireAvailable('a', 3, 60_000)
    expect(await leases.release('a', [one!])).toEqual([one!])
    expect(await leases.release('b')).toEqual([])
    const [taken] = await leases.acquireAvailable('b', 10, 60_000)
    expect(taken).toMatchObject({ accountId: one, fencingToken: '2' })
    expect(await leases.assertFence(one!, '1').catch((e: unknown) => e)).toMatchObject({
      reason: 'superseded',
    })
    expect((await leases.release('a')).sort()).toEqual([two!, three!].sort())
    expect(await leases.assertFence(two!, '1').catch((e: unknown) => e)).toMatchObject({
      reason: 'released',
    })
    expect(await leases.listOwned('a')).toEqual([])
    expect(ids(await leases.acquireAvailable('c', 10, 60_000))).toEqual([two!, three!].sort())
    expect(await leases.release('c', [])).toEqual([])
  })

  test('expiry follows the database clock', async () => {
    const [account] = await seedAccounts(1)
    const [held] = await leases.acquireAvailable('a', 1, 300)
    expect(await leases.owner(account!)).toBe('a')
    expect((await leases.find(account!))!.live).toBe(true)
    // No client time is ever sent: wait for the server's now() to pass expires_at.
    await db.sql`select pg_sleep(0.35)`
    expect(await leases.owner(account!)).toBeNull()
    expect(await leases.listOwned('a')).toEqual([])
    expect(await leases.find(account!)).toMatchObject({ owner: 'a', live: false, fencingToken: '1' })
    expect(await leases.assertFence(account!, held!.fencingToken).catch((e: unknown) => e)).toMatchObject({
      reason: 'expired',
    })
    expect(await leases.acquireAvailable('b', 1, 300)).toMatchObject([{ fencingToken: '2' }])
  })

  test('assertFence guards a write inside a transaction (PGlite has one connection: pass tx)', async () => {
    const [account] = await seedAccounts(1)
    const [held] = await leases.acquireAvailable('a', 1, 60_000)
    await db.sql.begin(async (tx) => {
      await leases.assertFence(account!, held!.fencingToken, tx)
      await repos.accounts.setHealth(account!, 'online', tx)
    })
    expect((await repos.accounts.get(account!)).health).toBe('online')
    await expire(account!)
    await leases.acquireAvailable('b', 1, 60_000)
    await expect(
      db.sql.begin(async (tx) => {
        await leases.assertFence(account!, held!.fencingToken, tx)
        await repos.accounts.setHealth(account!, 'reconnecting', tx)
      }),
    ).rejects.toBeInstanceOf(LeaseLostError)
    expect((await repos.accounts.get(account!)).health).toBe('online')
    expect(
      await leases.assertFence('00000000-0000-0000-0000-000000000000', '1').catch((e: unknown) => e),
    ).toMatchObject({ reason: 'missing' })
  })

  test('instances: heartbeat, live list, forget', async () => {
    await leases.heartbeat('a')
    await leases.heartbeat('b')
    await leases.heartbeat('a')
    expect((await leases.liveInstances(60_000)).map((row) => row.id)).toEqual(['a', 'b'])
    await db.sql`update instances set heartbeat_at = now() - interval '2 days' where id = 'b'`
    expect((await leases.liveInstances(60_000)).map((row) => row.id)).toEqual(['a'])
    await leases.heartbeat('a')
    const [row] = await db.sql<{ count: number }[]>`select count(*)::int as count from instances`
    expect(row!.count).toBe(1)
    await leases.forgetInstance('a')
    expect(await leases.liveInstances(60_000)).toEqual([])
  })
})

describe('AccountLeaseRepository under concurrency', () => {
  const realOnly = test.skipIf(testBackendSet() === 'embedded')

  realOnly('instances acquiring at once never own the same account', async () => {
    const accounts = await seedAccounts(120)
    const pools = [connect(db.url, 3), connect(db.url, 3), connect(db.url, 3), connect(db.url, 3)]
    try {
      const repoOf = pools.map((sql) => new AccountLeaseRepository(sql))
      const grab = async (index: number) => {
        const mine: string[] = []
        for (;;) {
          const got = await repoOf[index]!.acquireAvailable(`i${index}`, 7, 60_000)
          if (got.length === 0) return mine
          mine.push(...ids(got))
        }
      }
      const owned = await Promise.all(pools.map((_, index) => grab(index)))
      const all = owned.flat().sort()
      expect(all).toEqual(accounts)
      expect(new Set(all).size).toBe(accounts.length)
      // Everyone expires at once and all race again: still one owner each, the token raised exactly once.
      await db.sql`update account_leases set expires_at = now() - interval '1 millisecond'`
      const again = (await Promise.all(pools.map((_, index) => grab(index)))).flat().sort()
      expect(again).toEqual(accounts)
      const tokens = await db.sql<{ fencingToken: string }[]>`
        select distinct fencing_token::text as fencing_token from account_leases`
      expect(tokens.map((row) => row.fencingToken)).toEqual(['2'])
    } finally {
      await Promise.all(pools.map((sql) => sql.end({ timeout: 1 })))
    }
  })

  realOnly('a fenced write in progress keeps the lease from being taken until it commits', async () => {
    const [account] = await seedAccounts(1)
    const [held] = await leases.acquireAvailable('a', 1, 300)
    const other = connect(db.url, 2)
    try {
      const rival = new AccountLeaseRepository(other)
      let release: () => void = () => {}
      const hold = new Promise<void>((resolve) => {
        release = resolve
      })
      let fenced: () => void = () => {}
      const inside = new Promise<void>((resolve) => {
        fenced = resolve
      })
      const writer = db.sql.begin(async (tx) => {
        await leases.assertFence(account!, held!.fencingToken, tx)
        fenced()
        await hold
        await repos.accounts.setHealth(account!, 'online', tx)
      })
      await inside
      // Expired meanwhile (the writer's lock would block an update that forces it).
      await other`select pg_sleep(0.4)`
      expect(await rival.owner(account!)).toBeNull()
      // The row is share-locked by the writer: skipped, not waited for.
      expect(await rival.acquireAvailable('b', 1, 60_000)).toEqual([])
      release()
      await writer
      expect(await rival.acquireAvailable('b', 1, 60_000)).toMatchObject([{ accountId: account }])
    } finally {
      await other.end({ timeout: 1 })
    }
  })
})
