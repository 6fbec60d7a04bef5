/**
 * `npm run bench:retention` — the R3 sweep against the naive delete, on the real PostgreSQL of
 * TEST_DATABASE_URL (a throwaway database; not part of the test run).
 *
 * RETENTION_BENCH_ROWS expired message-metadata rows (default 10,000,000) are spread over the 30 days before
 * the 90-day cutoff (which falls inside a day, as in production), plus 1 % live rows. Then, each while a
 * writer keeps inserting today's messages one at a time (about 500/s, like the relay):
 * - the R3 sweep (`messagesSweep`: drop whole day partitions, delete the boundary day in batches);
 * - exactly `DELETE FROM messages_naive WHERE sent_at < $1` on an unpartitioned copy with the same rows,
 *   indexes and foreign keys (`sent_at` is this table's creation time).
 * Printed: time to remove the expired rows, the longest insert stall and the p99 insert latency.
 * Targets: sweep ≥ 10× faster, no insert stall over 100 ms.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { messagesSweep } from '../src/retention/messages-sweep.ts'
import { defaultRetentionPeriods } from '../src/retention/periods.ts'
import type { SweepDeps } from '../src/retention/sweep.ts'
import { MemoryCache } from '../storage/cache/memory-cache.ts'
import { connect, type Sql } from '../storage/db.ts'
import { LocalFileStore } from '../storage/files/local-file-store.ts'
import { repositories } from '../tests/storage/fixtures.ts'
import { createTestDatabase } from '../tests/support/test-database.ts'

const DAY = 86_400_000
const N = Number(process.env.RETENTION_BENCH_ROWS ?? 10_000_000)
const SEED_CHUNK = 1_000_000
const CHATS = 200
/** Days the expired rows are spread over (one partition each, plus the boundary day). */
const EXPIRED_DAYS = Number(process.env.RETENTION_BENCH_DAYS ?? 30)

const log = (line: string) => console.error(`  ${line}`)

interface Writer {
  stop(): Promise<{ inserts: number; maxMs: number; p99Ms: number }>
}

/** Inserts today's messages one by one on its own connection, timing each insert. */
function startWriter(sql: Sql, table: string, accountId: string, chatIds: string[], tag: string): Writer {
  const latencies: number[] = []
  let running = true
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const started = performance.now()
      await sql`
        insert into ${sql(table)} (account_id, chat_id, direction, origin_id, status, sent_at)
        values (${accountId}, ${chatIds[i % chatIds.length]!}, 'in', ${`${tag}-${i}`}, 'received', now())`
      latencies.push(performance.now() - started)
      await Bun.sleep(2)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      const sorted = [...latencies].sort((a, b) => a - b)
      return {
        inserts: sorted.length,
        maxMs: sorted.at(-1) ?? 0,
        p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
      }
    },
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now()
  const result = await fn()
  return { ms: performance.now() - started, result }
}

const db = await createTestDatabase({ backend: 'real', poolMax: 4 })
const writerSql = connect(db.url, 1)
const filesDir = mkdtempSync(join(tmpdir(), 'olchat-bench-retention-'))
try {
  const { sql } = db
  const repos = repositories(sql)
  const { portal } = await repos.portals.upsert({ memberId: 'bench-retention', domain: 'bench.bitrix24.ru' })
  const account = await repos.accounts.create({ portalId: portal.id, messenger: 'sandbox' })
  const chatIds: string[] = []
  for (let i = 0; i < CHATS; i++) {
    chatIds.push((await repos.chats.upsert({ accountId: account.id, remoteChatId: `chat-${i}` })).id)
  }
  // Mid-day, so the boundary day partition holds rows on both sides of the cutoff.
  const now = new Date(Math.floor(Date.now() / DAY) * DAY + 0.4 * DAY)
  const cutoff = new Date(now.getTime() - defaultRetentionPeriods.R3 * DAY)
  await repos.messages.ensurePartitions(new Date(cutoff.getTime() - (EXPIRED_DAYS + 1) * DAY), now)

  const live = Math.max(10_000, Math.round(N / 100))
  log(`seeding ${N.toLocaleString('en')} expired + ${live.toLocaleString('en')} live rows …`)
  const seed = await timed(async () => {
    const chats = sql.array(chatIds.map(Number))
    // Seeding only: foreign-key triggers off (session_replication_role, superuser), the rows are valid anyway.
    const insert = (from: number, to: number, spanMs: number, endsAt: Date, prefix: string) =>
      sql.begin(async (tx) => {
        await tx`set local session_replication_role = replica`
        await tx`
          insert into messages (account_id, chat_id, direction, origin_id, status, sent_at)
          select ${account.id}, (${chats}::bigint[])[1 + g % ${CHATS}],
            case when g % 2 = 0 then 'in' else 'out' end, ${prefix} || g, 'delivered',
            ${endsAt}::timestamptz - (g::float8 / ${N}) * ${spanMs}::float8 * interval '1 millisecond'
              - interval '1 millisecond'
          from generate_series(${from}::int, ${to}::int) g`
      })
    for (let from = 1; from <= N; from += SEED_CHUNK) {
      await insert(from, Math.min(N, from + SEED_CHUNK - 1), EXPIRED_DAYS * DAY, cutoff, 'x')
    }
    await sql`
      insert into messages (account_id, chat_id, direction, origin_id, status, sent_at)
      select ${account.id}, (${chats}::bigint[])[1 + g % ${CHATS}], 'in', 'live' || g, 'delivered',
        ${now}::timestamptz - (g::float8 / ${live}) * interval '30 days'
      from generate_series(1, ${live}::int) g`
    // The unpartitioned copy: same columns, defaults, identity, indexes and foreign keys, same rows.
    await sql`create table messages_naive (like messages including defaults including identity including indexes)`
    await sql`
      alter table messages_naive
        add foreign key (account_id) references accounts (id) on delete cascade,
        add foreign key (chat_id) references chats (id) on delete cascade`
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`
      await tx`insert into messages_naive overriding system value select * from messages`
    })
    await sql`vacuum analyze messages`
    await sql`vacuum analyze messages_naive`
  })
  log(`seeded in ${(seed.ms / 1000).toFixed(1)} s`)
  const indexes = await sql<{ indexdef: string }[]>`
    select indexdef from pg_indexes where tablename = 'messages_naive' order by 1`
  log(`naive copy indexes: ${indexes.length}`)

  const deps: SweepDeps = {
    sql,
    repos,
    files: new LocalFileStore({ dir: filesDir, baseUrl: 'http://127.0.0.1:1', signingKey: randomBytes(32) }),
    cache: new MemoryCache(),
    periods: defaultRetentionPeriods,
    fileTtlMs: 900_000,
    now: () => now,
    batchSize: 1_000,
    maxBatches: 50,
    lockTimeoutMs: 100,
  }
  const expiredLeft = async (table: string) => {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from ${sql(table)} where sent_at < ${cutoff}`
    return row!.n
  }

  const expiredBefore = await expiredLeft('messages')
  log('R3 sweep (partitioned) while inserting …')
  const sweepWriter = startWriter(writerSql, 'messages', account.id, chatIds, 'w1')
  await Bun.sleep(300)
  const sweep = await timed(async () => {
    const deleted: Record<string, number> = {}
    let runs = 0
    for (let more = true; more; runs++) {
      const outcome = await messagesSweep.run(deps)
      for (const [what, n] of Object.entries(outcome.deleted)) deleted[what] = (deleted[what] ?? 0) + n
      more = outcome.more
    }
    return { deleted, runs }
  })
  await Bun.sleep(300)
  const sweepStalls = await sweepWriter.stop()
  const sweepLeft = await expiredLeft('messages')

  log('naive DELETE (unpartitioned) while inserting …')
  const naiveWriter = startWriter(writerSql, 'messages_naive', account.id, chatIds, 'w2')
  await Bun.sleep(300)
  const naive = await timed(() => sql`DELETE FROM messages_naive WHERE sent_at < ${cutoff}`)
  await Bun.sleep(300)
  const naiveStalls = await naiveWriter.stop()
  const naiveLeft = await expiredLeft('messages_naive')
  // Not part of the comparison: a DELETE leaves dead tuples and index entries for VACUUM to reclaim later.
  const vacuumWriter = startWriter(writerSql, 'messages_naive', account.id, chatIds, 'w3')
  const vacuum = await timed(() => sql`vacuum messages_naive`)
  const vacuumStalls = await vacuumWriter.stop()
  const [liveRow] = await sql<{ n: number }[]>`
    select count(*)::int as n from messages where origin_id like 'live%'`
  const liveLeft = liveRow!.n

  const speedup = naive.ms / sweep.ms
  const ms = (value: number) => `${value.toFixed(1)} ms`
  const s = (value: number) => `${(value / 1000).toFixed(2)} s`
  const row = (cells: Array<string | number>) =>
    console.log(`| ${cells.map((c) => (typeof c === 'number' ? c.toLocaleString('en') : c)).join(' | ')} |`)
  const { partitions = 0, messages: boundaryRows = 0 } = sweep.result.deleted
  console.log(
    `\nRetention sweep benchmark — ${N.toLocaleString('en')} expired rows over ${EXPIRED_DAYS} days ` +
      '(PostgreSQL, R3 = 90 days, cutoff inside a day)\n',
  )
  row(['Method', 'Rows removed', 'Time', 'Longest insert stall', 'p99 insert', 'Inserts meanwhile'])
  row(['---', '---', '---', '---', '---', '---'])
  row([
    `R3 sweep: ${partitions} partitions dropped, ${boundaryRows.toLocaleString('en')} boundary rows deleted (${sweep.result.runs} run)`,
    expiredBefore - sweepLeft,
    s(sweep.ms),
    ms(sweepStalls.maxMs),
    ms(sweepStalls.p99Ms),
    sweepStalls.inserts,
  ])
  row([
    '`DELETE FROM messages_naive WHERE sent_at < $1`',
    naive.result.count,
    s(naive.ms),
    ms(naiveStalls.maxMs),
    ms(naiveStalls.p99Ms),
    naiveStalls.inserts,
  ])
  row([
    '(not compared) `VACUUM messages_naive` afterwards',
    '—',
    s(vacuum.ms),
    ms(vacuumStalls.maxMs),
    ms(vacuumStalls.p99Ms),
    vacuumStalls.inserts,
  ])
  console.log(
    `\nspeed-up ${speedup.toFixed(1)}× (target ≥ 10×: ${speedup >= 10 ? 'met' : 'MISSED'}); ` +
      `longest insert stall during the sweep ${ms(sweepStalls.maxMs)} ` +
      `(target ≤ 100 ms: ${sweepStalls.maxMs <= 100 ? 'met' : 'MISSED'})`,
  )
  console.log(`expired rows left: sweep ${sweepLeft}, naive ${naiveLeft}; live rows kept ${liveLeft}/${live}`)
  if (sweepLeft !== 0 || naiveLeft !== 0 || liveLeft !== live) process.exitCode = 1
} finally {
  await writerSql.end({ timeout: 1 })
  rmSync(filesDir, { recursive: true, force: true })
  await db.drop()
}
