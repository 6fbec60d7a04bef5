/**
 * `bun run bench:relay` — relay figures of one Olchat process on the real PostgreSQL (a throwaway database)
 * and Redis, printed as a table (not part of the test run):
 * - sustained messages/s customer → operator (customers write in the sandbox messenger; arrivals counted at
 *   the Bitrix24 portal emulator) and operator → customer (operators post in the portal emulator; arrivals
 *   at the sandbox), both emulators with their rate limits off;
 * - p50/p99 added latency at a steady 1,000 msg/s each way;
 * - RSS of a fresh Olchat process with 0 and with 10,000 idle sandbox accounts online, per account;
 * - whether those idle accounts stay connected: live sockets at the sandbox, reconnects and duplicate-session
 *   kills over a quiet minute (`relay-quiet.ts`).
 *
 * Both emulators run in this process (loopback HTTP/WebSocket to the Olchat child), so arrivals are observed
 * directly: the sandbox stamps each message it receives (ms); the portal emulator keeps only a date in
 * seconds, so customer → operator arrivals are stamped by a 1 ms poll of its chats here.
 * Sizes: BENCH_ACCOUNTS (lines, default 8), BENCH_CUSTOMERS (per account, 8), BENCH_IDLE_ACCOUNTS (10000),
 * BENCH_MESSAGES (per throughput phase, 20000), BENCH_RATE (1000), BENCH_LATENCY_SECONDS (10),
 * BENCH_QUIET_SECONDS (60).
 */
import { generateKey, KeyRing } from '../src/crypto/key-ring.ts'
import { LEASES_RELEASED_CHANNEL } from '../storage/notify.ts'
import { createRepositories } from '../storage/repos/index.ts'
import { startBitrix24Emulator } from '../tests/emulators/bitrix24/index.ts'
import { startSandbox } from '../tests/emulators/sandbox/index.ts'
import { testRedisUrl } from '../tests/support/backends.ts'
import { type OlchatProcess, startOlchat } from '../tests/support/olchat-process.ts'
import { type SeededAccount, seedSandboxAccounts } from '../tests/support/sandbox-accounts.ts'
import { createTestDatabase } from '../tests/support/test-database.ts'
import { type ConnectionCounters, watchQuiet } from './relay-quiet.ts'
import { cpuTicks, freePort, percentile, rssKb, sustainedRate, until } from './relay-support.ts'

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const lineCount = env('BENCH_ACCOUNTS', 8)
const customersPerAccount = env('BENCH_CUSTOMERS', 8)
const idleCount = env('BENCH_IDLE_ACCOUNTS', 10_000)
const burstSize = env('BENCH_MESSAGES', 20_000)
const steadyRate = env('BENCH_RATE', 1_000)
const steadySeconds = env('BENCH_LATENCY_SECONDS', 10)
const quietSeconds = env('BENCH_QUIET_SECONDS', 60)
const phaseLimitMs = 60_000
const clientId = 'app.olchat.bench'
const clientSecret = 'bench-secret-123456'
const keyRing = `k1:${generateKey()}`
const rows: string[][] = []
const notes: string[] = []

function report(measure: string, value: string, detail = '') {
  rows.push([measure, value, detail])
  console.error(`  ${measure}: ${value} ${detail}`)
}

const db = await createTestDatabase({ backend: 'real', poolMax: 8 })
const repos = createRepositories(db.sql, KeyRing.fromText(keyRing))
const bitrix = await startBitrix24Emulator({
  app: { clientId, clientSecret },
  rateLimit: { drainPerSecond: 1_000_000, burst: 1_000_000 },
})
const sandbox = await startSandbox({ rateLimit: null })
const sandboxControl = {
  createAccounts: async (count: number) => sandbox.createAccounts({ count }).accounts,
  createSession: async (account: number) => sandbox.createSession({ account }).session,
}
const olchats: OlchatProcess[] = []

/** The second process reuses the first one's port: the portal knows the app by its URLs. */
async function startNode(port: number): Promise<{ olchat: OlchatProcess; url: string }> {
  const url = `http://127.0.0.1:${port}`
  const olchat = startOlchat({
    PORT: String(port),
    OLCHAT_PUBLIC_URL: url,
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl,
    OLCHAT_ENCRYPTION_KEYS: keyRing,
    BITRIX_CLIENT_ID: clientId,
    BITRIX_CLIENT_SECRET: clientSecret,
    OLCHAT_ALLOW_HTTP_PORTALS: 'true',
    SANDBOX_URL: sandbox.url,
    LOG_LEVEL: 'info',
    // The portal emulator runs with its limit off: Olchat's own mirror of the budget must match, or the bench
    // measures the standard plan's 50 items/s instead of Olchat.
    BITRIX_REST_BUDGET: process.env.BENCH_REST_BUDGET ?? '100000/100000',
  })
  olchats.push(olchat)
  await olchat.waitReady(30_000)
  return { olchat, url }
}

async function flip(accounts: readonly SeededAccount[], health: 'connecting' | 'disconnected') {
  for (let i = 0; i < accounts.length; i += 5_000) {
    const ids = accounts.slice(i, i + 5_000).map((a) => a.id)
    await db.sql`update accounts set health = ${health} where id = any(${db.sql.array(ids)}::uuid[])`
  }
  await db.sql.notify(LEASES_RELEASED_CHANNEL, '')
}

async function countOnline(accounts: readonly SeededAccount[]): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from accounts
    where health = 'online' and id = any(${db.sql.array(accounts.map((a) => a.id))}::uuid[])`
  return row!.n
}

const connectionCounters = () => sandbox.stats() as ConnectionCounters

/** Waits until the accounts are online (database and sandbox agree); returns how many are. */
async function allOnline(accounts: readonly SeededAccount[], timeoutMs: number): Promise<number> {
  const started = performance.now()
  let last = 0
  for (;;) {
    const online = await countOnline(accounts)
    const live = connectionCounters().liveConnections
    if (online === accounts.length && live >= accounts.length) return accounts.length
    if (performance.now() - started > timeoutMs) return Math.min(online, live)
    if (performance.now() - last > 10_000) {
      last = performance.now()
      console.error(`  … ${online}/${accounts.length} online, ${live} live connections`)
    }
    await Bun.sleep(250)
  }
}

/** Warnings and errors the process logged, by message (what limits it). */
function loggedTrouble(olchat: OlchatProcess): string {
  const counts = new Map<string, number>()
  for (const l of olchat.lines) {
    if (typeof l.level === 'number' && l.level >= 40)
      counts.set(String(l.msg), (counts.get(String(l.msg)) ?? 0) + 1)
  }
  return [...counts].map(([msg, n]) => `${n} × ${msg}`).join('; ') || 'none'
}

/** Accounts the process let go of (`account released`), by reason: a lost lease shows up here. */
function releasedByReason(olchat: OlchatProcess): string {
  const counts = new Map<string, number>()
  for (const l of olchat.lines) {
    if (l.msg === 'account released') counts.set(String(l.reason), (counts.get(String(l.reason)) ?? 0) + 1)
  }
  return [...counts].map(([reason, n]) => `${n} × ${reason}`).join(', ') || 'none'
}

async function main() {
  // Install: the portal row, the sandbox connector registered.
  const port = await freePort()
  const first = await startNode(port)
  const install = (await bitrix.install({ appUrl: `${first.url}/bitrix/install` })) as { finished: boolean }
  if (!install.finished) throw new Error('install did not finish')
  const [portalRow] = await db.sql<{ id: string }[]>`select id from portals`
  const portalId = portalRow!.id

  // 1. RSS: the fresh process, then 10,000 idle accounts online in it.
  const idle = await seedSandboxAccounts(repos, sandboxControl, { portalId, count: idleCount })
  await Bun.sleep(3_000)
  const rssBefore = rssKb(first.olchat.child.pid)
  const connectStarted = performance.now()
  await flip(idle, 'connecting')
  const online = await allOnline(idle, 120_000)
  const connectMs = performance.now() - connectStarted
  // Nothing is sent now: a connected account must stay connected (no reconnects, no duplicate kills).
  const quiet = await watchQuiet(connectionCounters, () => countOnline(idle), Math.max(5, quietSeconds))
  const rssAfter = rssKb(first.olchat.child.pid)
  if (online < idleCount) notes.push(`only ${online}/${idleCount} idle accounts came online in 120 s`)
  notes.push(`warnings logged while connecting the idle accounts: ${loggedTrouble(first.olchat)}`)
  report('RSS, 0 accounts', `${(rssBefore / 1024).toFixed(1)} MB`, 'fresh process, after install')
  report(
    `RSS, ${idleCount} idle accounts`,
    `${(rssAfter / 1024).toFixed(1)} MB`,
    `${online} online after ${(connectMs / 1000).toFixed(1)} s`,
  )
  report(
    'RSS growth per idle account',
    `${((rssAfter - rssBefore) / idleCount).toFixed(1)} KB`,
    `accounts held by the process, after ${quiet.seconds} s idle (see the note if not all stayed live); goal ≤ 50 KB`,
  )
  report(
    `idle accounts live at the sandbox over ${quiet.seconds} s idle`,
    `${quiet.liveEnd}/${idleCount}`,
    `lowest ${quiet.liveMin}; ${quiet.onlineInDb} online in the database`,
  )
  const closes = Object.entries(quiet.closedByCode).map(([code, n]) => `${n} × ${code}`)
  report(
    `reconnects over ${quiet.seconds} s idle`,
    String(quiet.reconnects),
    `${quiet.duplicateKills} AUTH_KEY_DUPLICATED kills, ${quiet.sessionsRevoked} sessions revoked; ` +
      `live sockets closed, by code: ${closes.join(', ') || 'none'}; ` +
      `accounts Olchat gave up since the start: ${releasedByReason(first.olchat)}`,
  )
  // Out of the way: a fresh process for the relay phases.
  await first.olchat.stop('SIGTERM')
  await flip(idle, 'disconnected')

  const node = await startNode(port)
  const pid = node.olchat.child.pid
  const accounts = await seedSandboxAccounts(repos, sandboxControl, { portalId, count: lineCount })
  await flip(accounts, 'connecting')
  if ((await allOnline(accounts, 60_000)) < accounts.length) throw new Error('bench accounts not online')
  for (const [i, account] of accounts.entries()) {
    const line = i + 1
    if (line > 1) await bitrix.addLine({ name: `Bench ${line}`, id: line }).catch(() => {})
    const page = (await bitrix.openPlacement({ connector: 'olchat_sandbox', line })) as { body: string }
    const session = /name="session" value="([^"]+)"/.exec(page.body)?.[1]
    if (!session) throw new Error(`no placement session for line ${line}`)
    const res = await fetch(`${node.url}/bitrix/placement`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ session, action: 'bind', account: account.id }),
    })
    if (res.status !== 200) throw new Error(`bind line ${line}: ${res.status}`)
  }
  const pairs = accounts.flatMap((a) =>
    Array.from({ length: customersPerAccount }, (_, i) => ({
      account: a.remoteId,
      customer: sandbox.createCustomer({ name: `Customer ${a.remoteId}-${i}` }).id as number,
    })),
  )

  // Customer messages reaching the portal, stamped by a 1 ms poll of the emulator's chats.
  const arrivals = new Map<number, number>()
  const scanned = new Map<number, number>()
  const poll = setInterval(() => {
    const now = performance.now()
    for (const chat of bitrix.portal.chats.values()) {
      const from = scanned.get(chat.id) ?? 0
      for (let i = from; i < chat.messages.length; i++) {
        const m = /bench c(\d+)/.exec(chat.messages[i]!.text)
        if (m) arrivals.set(Number(m[1]), now)
      }
      scanned.set(chat.id, chat.messages.length)
    }
  }, 1)
  let seq = 0
  const sentAt = new Map<number, number>()
  const customerSend = () => {
    const n = seq++
    const pair = pairs[n % pairs.length]!
    sentAt.set(n, performance.now())
    sandbox.customerSend({ ...pair, text: `bench c${n}` })
  }
  const waitArrivals = (target: number, timeoutMs: number) =>
    until(
      'customer messages at the portal',
      async () => (arrivals.size >= target ? true : undefined),
      timeoutMs,
      20,
    )

  // Warm-up: one message per chat creates the Open Lines chats.
  for (let i = 0; i < pairs.length; i++) customerSend()
  await waitArrivals(seq, 30_000)
  const chats = [...bitrix.portal.chats.values()].filter((c) => c.connector === 'olchat_sandbox')
  if (chats.length < pairs.length)
    throw new Error(`expected ${pairs.length} portal chats, got ${chats.length}`)

  // 2. Customer → operator, as fast as it goes (at most 5,000 waiting).
  {
    const start = seq
    const end = start + burstSize
    const cpu0 = cpuTicks(pid)
    const t0 = performance.now()
    while (seq < end && performance.now() - t0 < phaseLimitMs) {
      const backlog = seq - arrivals.size
      if (backlog < 5_000) for (let i = 0; i < 200 && seq < end; i++) customerSend()
      await Bun.sleep(backlog < 5_000 ? 0 : 5)
    }
    await waitArrivals(seq, Math.max(5_000, phaseLimitMs - (performance.now() - t0))).catch(() => {})
    const elapsed = (performance.now() - t0) / 1000
    const times = [...Array(seq - start).keys()]
      .map((i) => arrivals.get(start + i))
      .filter((t) => t !== undefined)
    const cpu = (cpuTicks(pid) - cpu0) / 100 / elapsed
    report(
      'customer → operator, sustained',
      `${sustainedRate(times).toFixed(0)} msg/s`,
      `${times.length}/${seq - start} arrived in ${elapsed.toFixed(1)} s; Olchat CPU ${(cpu * 100).toFixed(0)}%`,
    )
  }

  // 3. Customer → operator at a steady rate: added latency.
  {
    const start = seq
    const t0 = performance.now()
    const total = steadyRate * steadySeconds
    while (seq - start < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * steadyRate))
      while (seq - start < due) customerSend()
      await Bun.sleep(1)
    }
    await waitArrivals(seq, 30_000).catch(() => {})
    const latencies = [...Array(total).keys()]
      .map((i) => (arrivals.get(start + i) ?? Number.NaN) - sentAt.get(start + i)!)
      .filter((ms) => !Number.isNaN(ms))
    report(
      `customer → operator at ${steadyRate} msg/s, added latency`,
      `p50 ${percentile(latencies, 50).toFixed(0)} ms · p99 ${percentile(latencies, 99).toFixed(0)} ms`,
      `${latencies.length}/${total} arrived; max ${percentile(latencies, 100).toFixed(0)} ms`,
    )
  }
  clearInterval(poll)

  // Operator → customer: posted in the portal emulator; the sandbox stamps what it receives (Unix ms).
  let oseq = 0
  const postedAt = new Map<number, number>()
  const outcomes = { failed: 0 }
  const operatorPost = async () => {
    const n = oseq++
    const chat = chats[n % chats.length]!
    postedAt.set(n, Date.now())
    try {
      await bitrix.postOperatorMessage({ chatId: chat.id, text: `bench o${n}` })
    } catch {
      outcomes.failed++
    }
  }
  const received = () => (sandbox.stats() as { messagesReceived: number }).messagesReceived
  const sandboxArrivals = () => {
    const out = new Map<number, number>()
    const state = sandbox.state() as {
      accounts: Array<{ chats: Array<{ messages: Array<{ out: boolean; text?: string; date: number }> }> }>
    }
    for (const account of state.accounts) {
      for (const chat of account.chats) {
        for (const m of chat.messages) {
          const found = m.out ? /bench o(\d+)/.exec(m.text ?? '') : null
          if (found) out.set(Number(found[1]), m.date)
        }
      }
    }
    return out
  }

  // 4. Operator → customer, as fast as it goes (100 posts in flight, at most 5,000 waiting).
  {
    const start = oseq
    const base = received()
    const cpu0 = cpuTicks(pid)
    const t0 = performance.now()
    const inFlight = new Set<Promise<void>>()
    while (oseq - start < burstSize && performance.now() - t0 < phaseLimitMs) {
      if (inFlight.size >= 100 || oseq - start - (received() - base) >= 5_000) {
        await Promise.race([...inFlight, Bun.sleep(5)])
        continue
      }
      const p: Promise<void> = operatorPost().finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
    // Bounded: a post returns once the portal delivered its event to Olchat, which may lag far behind.
    await Promise.race([Promise.all(inFlight), Bun.sleep(30_000)])
    const posted = oseq - start
    await until(
      'operator messages at the sandbox',
      async () => (received() - base >= posted - outcomes.failed ? true : undefined),
      Math.max(5_000, phaseLimitMs - (performance.now() - t0)),
      20,
    ).catch(() => {})
    const elapsed = (performance.now() - t0) / 1000
    const cpu = (cpuTicks(pid) - cpu0) / 100 / elapsed
    const got = sandboxArrivals()
    const times = [...Array(posted).keys()].map((i) => got.get(start + i)).filter((t) => t !== undefined)
    report(
      'operator → customer, sustained',
      `${sustainedRate(times).toFixed(0)} msg/s`,
      `${times.length}/${posted} arrived in ${elapsed.toFixed(1)} s; ${outcomes.failed} posts failed; ` +
        `Olchat CPU ${(cpu * 100).toFixed(0)}%`,
    )
  }

  // 5. Operator → customer at a steady rate: added latency (portal post → sandbox receipt).
  {
    const start = oseq
    const total = steadyRate * steadySeconds
    const t0 = performance.now()
    const inFlight = new Set<Promise<void>>()
    while (oseq - start < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * steadyRate))
      while (oseq - start < due) {
        const p: Promise<void> = operatorPost().finally(() => inFlight.delete(p))
        inFlight.add(p)
      }
      await Bun.sleep(1)
    }
    // Bounded: a post returns once the portal delivered its event to Olchat, which may lag far behind.
    await Promise.race([Promise.all(inFlight), Bun.sleep(30_000)])
    const base = oseq
    await until(
      'operator messages at the sandbox',
      async () => {
        const got = sandboxArrivals()
        return [...Array(total).keys()].every((i) => got.has(start + i)) ? true : undefined
      },
      30_000,
      500,
    ).catch(() => {})
    const got = sandboxArrivals()
    const latencies = [...Array(total).keys()]
      .map((i) => (got.get(start + i) ?? Number.NaN) - postedAt.get(start + i)!)
      .filter((ms) => !Number.isNaN(ms))
    report(
      `operator → customer at ${steadyRate} msg/s, added latency`,
      `p50 ${percentile(latencies, 50).toFixed(0)} ms · p99 ${percentile(latencies, 99).toFixed(0)} ms`,
      `${latencies.length}/${base - start} arrived; max ${percentile(latencies, 100).toFixed(0)} ms`,
    )
  }
  const portalStats = bitrix.stats() as { status503: number; eventsFailed: number }
  const sandboxStats = sandbox.stats() as { floodWaits: number; repeated: number; authKeyDuplicated: number }
  notes.push(
    `portal emulator: ${portalStats.status503} × 503, ${portalStats.eventsFailed} failed event deliveries; ` +
      `sandbox: ${sandboxStats.floodWaits} flood waits, ${sandboxStats.repeated} repeated sends, ` +
      `${sandboxStats.authKeyDuplicated} AUTH_KEY_DUPLICATED`,
  )
}

try {
  await main()
} finally {
  for (const olchat of olchats) await olchat.stop('SIGTERM')
  await sandbox.stop()
  await bitrix.stop()
  await db.drop()
}
const widths = [0, 1, 2].map((c) =>
  Math.max(...[['measure', 'value', 'detail'], ...rows].map((r) => r[c]!.length)),
)
const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`
console.log(
  [
    `relay benchmark: one Olchat process, ${lineCount} accounts × ${customersPerAccount} chats, real PostgreSQL`,
    line(['measure', 'value', 'detail']),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ...notes,
  ].join('\n'),
)
process.exit(0)
