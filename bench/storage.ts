/**
 * `npm run bench:storage` — storage figures, printed as a table (not part of the test run):
 * - delivery queue: single-row insert + commit rate, and batched insert rate, on the real PostgreSQL server and on
 *   embedded PGlite persisted to disk (the production embedded setup);
 * - files: small-file round trips (put → signed URL → HTTP GET → delete) and large-file streaming throughput on
 *   S3 (s3rver on loopback, real AWS SDK) and the local directory store.
 * Sizes: BENCH_SCALE=2 doubles every count. Needs the PostgreSQL of TEST_DATABASE_URL for the real-server rows.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { generateKey, KeyRing } from '../src/crypto/key-ring.ts'
import { createFileRoutes } from '../src/http/files-route.ts'
import { connect, type Sql } from '../storage/db.ts'
import { startEmbeddedPostgres } from '../storage/embedded-postgres.ts'
import type { FileStore } from '../storage/files/file-store.ts'
import { LocalFileStore } from '../storage/files/local-file-store.ts'
import { S3FileStore } from '../storage/files/s3-file-store.ts'
import { migrate } from '../storage/migrate.ts'
import { createRepositories } from '../storage/repos/index.ts'
import { startS3rver } from '../tests/support/s3rver.ts'
import { createTestDatabase } from '../tests/support/test-database.ts'

const scale = Number(process.env.BENCH_SCALE ?? 1)
const keys = KeyRing.fromText(`k1:${generateKey()}`)
const rows: string[][] = []

function report(target: string, measure: string, count: number, ms: number, unit = 'ops/s', extra = '') {
  const rate = (count / ms) * 1000
  rows.push([
    target,
    measure,
    String(count),
    `${(ms / 1000).toFixed(2)} s`,
    `${rate.toFixed(0)} ${unit}`,
    extra,
  ])
  console.error(`  ${target} · ${measure}: ${rate.toFixed(0)} ${unit} ${extra}`)
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await fn()
  return performance.now() - started
}

async function benchQueue(target: string, sql: Sql) {
  const repos = createRepositories(sql, keys)
  const { portal } = await repos.portals.upsert({ memberId: `bench-${target}`, domain: 'bench.bitrix24.ru' })
  const account = await repos.accounts.create({ portalId: portal.id, messenger: 'sandbox' })
  const payload = { text: 'Здравствуйте! Хочу уточнить статус заказа №12345.', files: [] }
  const job = (i: number, run: string) => ({
    accountId: account.id,
    direction: 'to_portal' as const,
    kind: 'message' as const,
    idempotencyKey: `bench:${run}:${i}`,
    payload,
  })

  const single = Math.round((target === 'postgres' ? 2000 : 500) * scale)
  // Each enqueue is its own statement and so its own commit (autocommit), like one incoming message.
  const singleMs = await timed(async () => {
    for (let i = 0; i < single; i++) await repos.deliveries.enqueue(job(i, 'single'))
  })
  report(target, 'delivery queue: 1 row per commit', single, singleMs, 'rows/s')

  const batchSize = 100
  const batches = Math.round((target === 'postgres' ? 100 : 40) * scale)
  const batchedMs = await timed(async () => {
    for (let b = 0; b < batches; b++) {
      const batch = Array.from({ length: batchSize }, (_, i) => job(b * batchSize + i, 'batched'))
      await repos.deliveries.enqueueMany(batch)
    }
  })
  report(target, `delivery queue: ${batchSize} rows per commit`, batches * batchSize, batchedMs, 'rows/s')

  const claimed = Math.round((target === 'postgres' ? 1000 : 300) * scale)
  const claimMs = await timed(async () => {
    let done = 0
    while (done < claimed) {
      const got = await repos.deliveries.claim(
        { accountId: account.id },
        Math.min(50, claimed - done),
        30_000,
      )
      if (got.length === 0) break
      for (const delivery of got) await repos.deliveries.complete(delivery.id)
      done += got.length
    }
  })
  report(target, 'delivery queue: claim 50 + complete each', claimed, claimMs, 'rows/s')
}

async function benchFiles(target: string, store: FileStore) {
  const small = Buffer.alloc(64 * 1024, 7)
  const n = Math.round(200 * scale)
  const roundTripMs = await timed(async () => {
    for (let i = 0; i < n; i++) {
      const key = `p/bench/a/bench/small-${i}`
      await store.put(key, Readable.from([small]), { size: small.length, contentType: 'image/jpeg' })
      const res = await fetch(await store.signedUrl(key, 300))
      const body = await res.arrayBuffer()
      if (!res.ok || body.byteLength !== small.length)
        throw new Error(`${target}: download failed (${res.status})`)
      await store.delete(key)
    }
  })
  report(target, 'file round trip (64 KiB put+GET+delete)', n, roundTripMs, 'trips/s')

  const mib = Math.round(200 * scale)
  const chunk = Buffer.alloc(1024 * 1024, 3)
  const key = 'p/bench/a/bench/large'
  const rssBefore = process.memoryUsage().rss
  let rssPeak = rssBefore
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
  }, 50)
  const putMs = await timed(async () => {
    async function* body() {
      for (let i = 0; i < mib; i++) yield chunk
    }
    await store.put(key, Readable.from(body()), { contentType: 'video/mp4' })
  })
  const getMs = await timed(async () => {
    const res = await fetch(await store.signedUrl(key, 300))
    let bytes = 0
    for await (const part of res.body!) bytes += part.byteLength
    if (bytes !== mib * chunk.length) throw new Error(`${target}: large download was ${bytes} bytes`)
  })
  clearInterval(sampler)
  await store.delete(key)
  const rss = `RSS +${((rssPeak - rssBefore) / 2 ** 20).toFixed(0)} MiB`
  report(target, `stream ${mib} MiB up (size unknown)`, mib, putMs, 'MiB/s', rss)
  report(target, `stream ${mib} MiB down (signed URL)`, mib, getMs, 'MiB/s')
}

console.error(`storage benchmark (scale ${scale}) on bun ${Bun.version}`)

const real = await createTestDatabase({ backend: 'real', migrated: true, poolMax: 4 }).catch(
  (error: Error) => {
    console.error(`  real PostgreSQL unavailable, skipped: ${error.message}`)
    return undefined
  },
)
if (real) {
  try {
    await benchQueue('postgres', real.sql)
  } finally {
    await real.drop()
  }
}

const pgliteDir = mkdtempSync(join(tmpdir(), 'olchat-bench-pglite-'))
const embedded = await startEmbeddedPostgres(join(pgliteDir, 'pg'))
const embeddedSql = connect(embedded.url, 1)
try {
  await migrate(embeddedSql)
  await benchQueue('pglite', embeddedSql)
} finally {
  await embeddedSql.end({ timeout: 1 })
  await embedded.stop()
  rmSync(pgliteDir, { recursive: true, force: true })
}

const s3 = await startS3rver({ separateProcess: true })
try {
  await benchFiles('s3 (s3rver)', new S3FileStore({ ...s3, forcePathStyle: true }))
} finally {
  await s3.stop()
}

const localDir = mkdtempSync(join(tmpdir(), 'olchat-bench-files-'))
// The link base needs the port, and the port needs a listener: bind first, then build the store and its routes.
let serveFiles: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 })
const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => serveFiles(request) })
try {
  const store = new LocalFileStore({
    dir: localDir,
    baseUrl: `http://127.0.0.1:${server.port}`,
    signingKey: keys.deriveKey('bench'),
  })
  const routes = createFileRoutes(store)
  serveFiles = (request) => routes.fetch(request)
  await benchFiles('local dir', store)
} finally {
  server.stop(true)
  rmSync(localDir, { recursive: true, force: true })
}

const header = ['target', 'measure', 'count', 'time', 'rate', 'note']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'))
