/**
 * Failover acceptance test (issue 4): two Olchat processes share N sandbox accounts (env `FAILOVER_ACCOUNTS`,
 * default 20; `npm run test:failover` runs 100). The one holding more is SIGKILLed — or frozen with SIGSTOP
 * and later resumed — and every account must be online and owned by the other within 30 s. The verdicts on
 * sessions come from the sandbox messenger's own counters: no `AUTH_KEY_DUPLICATED`, one live connection per
 * account. Real PostgreSQL and Redis only (two processes cannot share an embedded database).
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { testBackendSet } from '../support/backends.ts'
import { until } from '../support/until.ts'
import { type Cluster, type ClusterAccount, type Node, startCluster } from './cluster.ts'
import { startSplitNodes } from './split.ts'

const real = testBackendSet() === 'real'
const accountCount = Number(process.env.FAILOVER_ACCOUNTS ?? 20)
/** A frozen socket is closed by the sandbox after this plus up to ~4 s: well before the 20 s lease ttl. */
const idleTimeoutSeconds = 3
const takeoverBudgetMs = 30_000

let cluster: Cluster | undefined

afterEach(async () => {
  await cluster?.stop()
  cluster = undefined
}, 60_000)

interface Settled {
  ms: number
  owners: Map<string, string>
}

/** Waits until every account is online, owned by `owner` and live once at the sandbox. */
async function allOnlineOn(
  c: Cluster,
  accounts: readonly ClusterAccount[],
  owner: string,
  timeoutMs: number,
): Promise<Settled> {
  const started = performance.now()
  const owners = await until(
    `all ${accounts.length} accounts online on ${owner}`,
    async () => {
      const [owners, health, stats] = await Promise.all([c.owners(), c.health(), c.sandboxStats()])
      const done =
        stats.liveConnections === accounts.length &&
        accounts.every((a) => owners.get(a.id) === owner && health.get(a.id) === 'online')
      return done ? owners : undefined
    },
    { timeoutMs },
  )
  return { ms: Math.round(performance.now() - started), owners }
}

async function expectSessionsClean(c: Cluster, accounts: readonly ClusterAccount[]) {
  const stats = await c.sandboxStats()
  expect(stats.authKeyDuplicated).toBe(0)
  expect(stats.liveConnections).toBe(accounts.length)
  for (const account of accounts) {
    const per = stats.perAccount[String(account.remoteId)]
    expect(per?.authKeyDuplicated ?? 0).toBe(0)
    expect(per?.liveConnections ?? 1).toBe(1)
  }
  return stats
}

async function scenario(signal: 'SIGKILL' | 'SIGSTOP') {
  cluster = await startCluster({ sandboxArgs: ['--idle-timeout', String(idleTimeoutSeconds)] })
  const c = cluster
  const accounts = await c.createAccounts(accountCount)
  const split = await startSplitNodes(c, accounts)
  const nodes: Node[] = [split.capped, split.open]
  const before = await until(
    'all accounts online on both processes',
    async () => {
      const [health, stats] = await Promise.all([c.health(), c.sandboxStats()])
      const online = accounts.every((a) => health.get(a.id) === 'online')
      return online && stats.liveConnections === accounts.length ? stats : undefined
    },
    { timeoutMs: 60_000 },
  )
  expect(before.authKeyDuplicated).toBe(0)
  const owners = await c.owners()
  const held = nodes.map((n) => accounts.filter((a) => owners.get(a.id) === n.instanceId).length)
  expect(held[0]! + held[1]!).toBe(accounts.length)
  expect(Math.min(...held)).toBeGreaterThan(0)

  // The capped one: the other has no limit and can take every account.
  const victim = split.capped
  const survivor = split.open
  const figures: Record<string, unknown> = {
    signal,
    accounts: accounts.length,
    split: Object.fromEntries(nodes.map((n, i) => [n.name, held[i]])),
    splitMs: split.ms,
    victim: victim.name,
  }

  process.kill(victim.pid, signal)
  const takeover = await allOnlineOn(c, accounts, survivor.instanceId, 60_000)
  figures.takeoverMs = takeover.ms
  const afterTakeover = await expectSessionsClean(c, accounts)
  figures.connectionsOpened = afterTakeover.connectionsOpened

  if (signal === 'SIGSTOP') {
    // Resumed: its deadlines have passed, so it must give its accounts up without reconnecting them.
    process.kill(victim.pid, 'SIGCONT')
    await Bun.sleep(8_000)
    const resumed = await allOnlineOn(c, accounts, survivor.instanceId, 5_000)
    const afterResume = await expectSessionsClean(c, accounts)
    figures.resumedStillOwns = accounts.filter((a) => resumed.owners.get(a.id) === victim.instanceId).length
    figures.connectionsOpenedAfterResume = afterResume.connectionsOpened
    expect(afterResume.connectionsOpened).toBe(afterTakeover.connectionsOpened)
    expect(victim.process.child.exitCode).toBeNull()
  }
  figures.authKeyDuplicated = (await c.sandboxStats()).authKeyDuplicated
  console.log(`failover figures ${JSON.stringify(figures)}`)
  expect(takeover.ms).toBeLessThanOrEqual(takeoverBudgetMs)
}

describe.skipIf(!real)(`failover: two processes, ${accountCount} sandbox accounts`, () => {
  test(
    'SIGKILL of the holder: the other process runs every account within 30 s, no duplicates',
    () => scenario('SIGKILL'),
    240_000,
  )

  test(
    'SIGSTOP of the holder, then SIGCONT: taken over within 30 s, never reclaimed',
    () => scenario('SIGSTOP'),
    240_000,
  )
})
