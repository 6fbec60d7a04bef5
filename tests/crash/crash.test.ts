/**
 * Crash test (issue 4): a mixed burst both ways over many chats through real processes — the sandbox
 * messenger, the Bitrix24 emulator, Olchat — on a private PostgreSQL cluster and a private redis-server.
 * Scenarios: Olchat SIGKILLed twice mid-burst and restarted; PostgreSQL restarted mid-burst; Redis flushed
 * mid-burst. Verdicts come from the emulators' state and counters: every message on the other side, in
 * order per chat; toward the messenger exactly once; toward the portal duplicates are counted (Bitrix24 has
 * no idempotency, so only sends in flight at a kill may repeat) and must be zero when nothing was killed.
 * Sizes: `CRASH_MESSAGES` (default 200) and `CRASH_CHATS` (default 10); `npm run test:crash` runs 10,000 / 200.
 *
 * Operator messages whose event the portal could not deliver (Olchat down at that instant) are counted as
 * refused and not expected anywhere: Bitrix24 does not retry events (reference/bitrix24.md §6).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { testBackendSet } from '../support/backends.ts'
import { type PrivatePostgres, postgresBinDir, startPrivatePostgres } from '../support/private-postgres.ts'
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis.ts'
import { until } from '../support/until.ts'
import { type BurstOutcome, judge, runBurst } from './burst.ts'
import { MaxSide } from './max-side.ts'
import type { MessengerSide } from './messenger-side.ts'
import { SandboxSide } from './sandbox-side.ts'
import { CrashWorld } from './world.ts'

const total = Number(process.env.CRASH_MESSAGES ?? 200)
const chats = Number(process.env.CRASH_CHATS ?? 10)
const writers = Number(process.env.CRASH_WRITERS ?? 4)
/** Bitrix24 drains 2 requests/s of 25 messages: about 50 messages/s toward the portal, plus restarts. */
const drainTimeoutMs = 90_000 + total * 40
const testTimeoutMs = drainTimeoutMs + 180_000
/** Most messages one `send.messages` call carries: the in-doubt window of one kill. */
const portalBatch = 25
const runnable = testBackendSet() === 'real' && postgresBinDir() !== undefined

let pg: PrivatePostgres
let redis: PrivateRedis
let databases = 0
const worlds: CrashWorld[] = []
const figures: Record<string, unknown> = { messages: total, chats }

beforeAll(async () => {
  if (!runnable) return
  pg = await startPrivatePostgres()
  redis = await startPrivateRedis()
}, 60_000)

afterAll(async () => {
  for (const world of worlds) await world.close()
  await redis?.close()
  await pg?.close()
  if (runnable) console.log('crash test figures', JSON.stringify(figures, null, 2))
}, 60_000)

async function newWorld(side: MessengerSide = new SandboxSide()): Promise<CrashWorld> {
  const url = await pg.createDatabase(`olchat_crash_${databases++}`)
  const world = new CrashWorld(side, url, redis.url)
  worlds.push(world)
  await world.start(chats)
  return world
}

async function fencingToken(world: CrashWorld): Promise<number> {
  const [row] = await world.sql<{ token: string }[]>`
    select fencing_token::text as token from account_leases where account_id = ${world.accountId}`
  return Number(row?.token ?? 0)
}

/** Kills Olchat, restarts it and waits until the new process holds the account (a newer lease). */
function killOnce(world: CrashWorld): () => Promise<void> {
  return async () => {
    const before = await fencingToken(world)
    await world.killAndRestart()
    await until(
      'the account taken over after the kill',
      async () => ((await fencingToken(world)) > before ? true : undefined),
      { timeoutMs: 60_000, everyMs: 200, ignoreErrors: true },
    )
  }
}

interface Verdict {
  toPortal: ReturnType<typeof judge>
  toMessenger: ReturnType<typeof judge>
  /** The messenger emulator's own duplicate counter. */
  messengerRepeats: number
}

async function verdict(world: CrashWorld, outcome: BurstOutcome): Promise<Verdict> {
  const portal = (await world.portalChats()).map((chat) => ({
    chat: chat.id,
    texts: chat.messages.filter((m) => m.author === 'client').map((m) => m.text),
  }))
  const messenger = (await world.side.chats()).map(({ chat, outTexts }) => ({ chat, texts: outTexts }))
  return {
    toPortal: judge(portal, 'cu', outcome.customerWritten),
    toMessenger: judge(messenger, 'op', outcome.operatorAccepted),
    messengerRepeats: await world.side.repeats(),
  }
}

/** Waits until both sides hold everything (or the timeout), then reports the verdict and the figures. */
async function drainAndJudge(name: string, world: CrashWorld, outcome: BurstOutcome) {
  const started = performance.now()
  let last: Verdict | undefined
  await until(
    `${name}: both sides hold every message`,
    async () => {
      last = await verdict(world, outcome)
      return last.toPortal.missing === 0 && last.toMessenger.missing === 0 ? true : undefined
    },
    { timeoutMs: drainTimeoutMs, everyMs: 1000, ignoreErrors: true },
  ).catch(() => {})
  const drainMs = Math.round(performance.now() - started)
  // A moment more: a late duplicate would show now.
  await Bun.sleep(1000)
  last = await verdict(world, outcome)
  figures[name] = {
    connector: world.side.name,
    customerToPortal: outcome.customerWritten.size,
    operatorToMessenger: outcome.operatorAccepted.size,
    operatorRefusedByPortal: outcome.operatorRefused,
    kills: world.kills,
    burstMs: outcome.burstMs,
    drainMs,
    portalDuplicates: last.toPortal.duplicates,
    messengerDuplicates: last.toMessenger.duplicates,
    messengerRepeatsCounted: last.messengerRepeats,
    missing: { toPortal: last.toPortal.missing, toMessenger: last.toMessenger.missing },
    outOfOrderChats: {
      toPortal: last.toPortal.outOfOrderChats,
      toMessenger: last.toMessenger.outOfOrderChats,
    },
  }
  const disorders = [...last.toPortal.disorders, ...last.toMessenger.disorders]
  if (disorders.length > 0) {
    // With the refusals of the same chats: an event the portal gave up on but Olchat stored breaks order.
    const chatsOf = new Set(disorders.map((d) => d.split(':')[0]!.replace('chat ', '')))
    const refusals = [...outcome.operatorRefusals].filter(([key]) => chatsOf.has(key.split(':')[0]!))
    Object.assign(figures[name] as object, { disorders, refusals: Object.fromEntries(refusals) })
  }
  if (last.toPortal.missing + last.toMessenger.missing + disorders.length > 0) {
    // Where the missing ones are stuck, for whoever reads a failure.
    const rows = await world.sql<
      { direction: string; kind: string; status: string; n: number; err: string }[]
    >`
      select direction, kind, status, count(*)::int as n, max(last_error) as err,
        min(available_at)::text as next, max(attempts) as attempts
      from deliveries group by 1, 2, 3 order by 1, 2, 3`
    ;(figures[name] as Record<string, unknown>).deliveries = rows
    ;(figures[name] as Record<string, unknown>).olchatLog = world.olchat.lines.slice(
      -Number(process.env.CRASH_LOG_LINES ?? 15),
    )
  }
  console.log(`crash test ${name}`, JSON.stringify(figures[name]))
  return last
}

/** The burst with two SIGKILLs and restarts; checks what holds for every messenger: nothing lost, in order. */
async function killedTwice(name: string, side: MessengerSide) {
  const world = await newWorld(side)
  const outcome = await runBurst(world, {
    total,
    chats,
    writers,
    disruptions: [killOnce(world), killOnce(world)],
  })
  const result = await drainAndJudge(name, world, outcome)
  expect(world.kills).toBe(2)
  expect(result.toPortal.missing).toBe(0)
  expect(result.toMessenger.missing).toBe(0)
  expect(result.toPortal.outOfOrderChats).toBe(0)
  expect(result.toMessenger.outOfOrderChats).toBe(0)
  return { world, result }
}

/**
 * A burst with one disruption that kills nothing: the same process rides it out, so nothing may be lost,
 * reordered or repeated on either side.
 */
async function riddenOut(name: string, disruption: () => Promise<void>) {
  const world = await newWorld()
  const outcome = await runBurst(world, { total, chats, writers, disruptions: [disruption] })
  const result = await drainAndJudge(name, world, outcome)
  expect(world.olchat.child.exitCode).toBeNull()
  expect(result.toPortal.missing).toBe(0)
  expect(result.toMessenger.missing).toBe(0)
  expect(result.toPortal.outOfOrderChats).toBe(0)
  expect(result.toMessenger.outOfOrderChats).toBe(0)
  expect(result.toPortal.duplicates).toBe(0)
  expect(result.toMessenger.duplicates).toBe(0)
  expect(result.messengerRepeats).toBe(0)
}

describe.skipIf(!runnable)('crash test: mixed burst through real processes', () => {
  test(
    'Olchat SIGKILLed twice mid-burst: nothing lost, in order, once toward the messenger',
    async () => {
      const { world, result } = await killedTwice('sigkill', new SandboxSide())
      expect(result.toMessenger.duplicates).toBe(0)
      expect(result.messengerRepeats).toBe(0)
      // Only sends in flight at a kill are in doubt: at most one portal call per kill.
      expect(result.toPortal.duplicates).toBeLessThanOrEqual(world.kills * portalBatch)
    },
    testTimeoutMs,
  )

  // An event the portal gave up on (10 s) while Olchat's pool was still reconnecting must not be stored after
  // the chat's next event: events.ts answers 503 to anything not stored within 5 s of its arrival.
  test(
    'PostgreSQL restarted mid-burst: Olchat rides it out, nothing lost, no duplicates',
    () =>
      riddenOut('postgres-restart', async () => {
        await pg.stop()
        await Bun.sleep(2000)
        await pg.start()
      }),
    testTimeoutMs,
  )

  test(
    'S2: Redis flushed mid-burst: nothing lost, no duplicates',
    () => riddenOut('redis-flush', () => redis.flushAll()),
    testTimeoutMs,
  )
})

// The same SIGKILL scenario over the MAX emulator (issue 4: duplicates reported per connector). MAX has no
// client-side message id: a send in flight at a kill is in doubt toward the messenger too. Olchat looks the
// message up in the chat's recent history before resending, so a duplicate needs the answer to be lost and
// the message to be missing from that lookup — at most one send per kill (sends go one at a time).
describe.skipIf(!runnable)('crash test over MAX: mixed burst through real processes', () => {
  test(
    'MAX: Olchat SIGKILLed twice mid-burst: nothing lost, in order, duplicates only from sends in flight',
    async () => {
      const { world, result } = await killedTwice('max-sigkill', new MaxSide())
      expect(result.toMessenger.duplicates).toBeLessThanOrEqual(world.kills)
      expect(result.toPortal.duplicates).toBeLessThanOrEqual(world.kills * portalBatch)
    },
    testTimeoutMs,
  )
})
