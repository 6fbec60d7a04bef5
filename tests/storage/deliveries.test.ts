import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { connect, type Sql } from '../../storage/db.ts'
import { type Delivery, type DeliveryInput, DeliveryNotFoundError } from '../../storage/repos/deliveries.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { rawText, repositories, seedAccount, seedChat } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let accountId: string
let chatA: string
let chatB: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql, { deliveries: { maxAttempts: 3 } })
  accountId = (await seedAccount(repos)).id
  chatA = (await seedChat(repos, accountId)).id
  chatB = (await seedChat(repos, accountId)).id
})
afterAll(() => db.drop())

let sequence = 0
const job = (chatId: string | null, extra: Partial<DeliveryInput> = {}): DeliveryInput => ({
  accountId,
  chatId,
  direction: 'to_portal',
  kind: 'message',
  idempotencyKey: `job-${++sequence}`,
  payload: { text: `message ${sequence}` },
  ...extra,
})

/** Starts every test from an empty queue. */
async function reset() {
  await db.sql`delete from deliveries`
}

const ids = (rows: Delivery[]) => rows.map((row) => row.id)

describe('DeliveryRepository: enqueue', () => {
  test('enqueue is idempotent on the key and returns the existing row', async () => {
    await reset()
    const input = job(chatA, { payload: { text: 'Привет', files: [1, 2] } })
    const first = await repos.deliveries.enqueue(input)
    expect(first.created).toBe(true)
    expect(first.delivery).toMatchObject({
      accountId,
      chatId: chatA,
      status: 'pending',
      attempts: 0,
      payload: { text: 'Привет', files: [1, 2] },
    })
    expect(first.delivery.expiresAt.getTime() - first.delivery.createdAt.getTime()).toBe(7 * 86_400_000)
    const repeat = await repos.deliveries.enqueue({ ...input, payload: { text: 'other' } })
    expect(repeat.created).toBe(false)
    expect(repeat.delivery).toEqual(first.delivery)
    expect(await repos.deliveries.get(first.delivery.id)).toEqual(first.delivery)
  })

  test('S4/R8: queued bodies are sealed in the table', async () => {
    await repos.deliveries.enqueue(job(chatA, { payload: { text: 'secret customer text 12345' } }))
    const raw = await rawText(db.sql, 'deliveries')
    expect(raw).not.toContain('secret customer text')
    expect(raw).not.toContain(Buffer.from('secret customer text').toString('hex'))
  })

  test('enqueueMany batches, keeps input order, returns existing rows for known keys', async () => {
    await reset()
    const existing = await repos.deliveries.enqueue(job(chatA))
    const fresh = Array.from({ length: 1200 }, (_, i) => job(i % 2 ? chatA : null, { kind: 'status' }))
    const inputs = [
      fresh[0]!,
      { ...existing.delivery, payload: 'x' } as DeliveryInput,
      ...fresh.slice(1),
      fresh[5]!,
    ]
    const results = await repos.deliveries.enqueueMany(inputs)
    expect(results).toHaveLength(inputs.length)
    expect(results.map((r) => r.delivery.idempotencyKey)).toEqual(inputs.map((i) => i.idempotencyKey))
    expect(results[1]).toEqual({ delivery: existing.delivery, created: false })
    expect(results.filter((r) => r.created)).toHaveLength(1200)
    expect(results.at(-1)!.delivery.id).toBe(results[6]!.delivery.id)
    expect(results[2]!.delivery.payload).toEqual(fresh[1]!.payload)
    const availableAt = new Date(Date.now() + 60_000)
    const [later] = await repos.deliveries.enqueueMany([job(null, { availableAt })])
    expect(later!.delivery.availableAt).toEqual(availableAt)
    expect((await repos.deliveries.countByStatus()).pending).toBe(1202)
  })
})

describe('DeliveryRepository: claim', () => {
  test('hands out the oldest rows and keeps per-chat order', async () => {
    await reset()
    const [a1, a2, b1] = await repos.deliveries.enqueueMany([job(chatA), job(chatA), job(chatB)])
    const first = await repos.deliveries.claim({ accountId }, 1)
    expect(ids(first)).toEqual([a1!.delivery.id])
    expect(first[0]).toMatchObject({ status: 'in_flight', payload: a1!.delivery.payload })
    expect(first[0]!.lockedUntil!.getTime()).toBeGreaterThan(Date.now())
    // a2 waits behind a1 (in flight); b1 is free.
    expect(ids(await repos.deliveries.claim({ accountId }, 10))).toEqual([b1!.delivery.id])
    expect(await repos.deliveries.claim({ accountId })).toEqual([])
    expect(await repos.deliveries.complete(a1!.delivery.id)).toBe(true)
    expect(ids(await repos.deliveries.claim({ accountId }))).toEqual([a2!.delivery.id])
  })

  test('one call may take several rows of a chat, in order', async () => {
    await reset()
    const rows = await repos.deliveries.enqueueMany([job(chatA), job(chatB), job(chatA), job(chatA)])
    const claimed = await repos.deliveries.claim({ direction: 'to_portal' }, 3)
    expect(ids(claimed)).toEqual(rows.slice(0, 3).map((r) => r.delivery.id))
    // The fourth (chat A) must wait for the third.
    expect(await repos.deliveries.claim({ direction: 'to_portal' })).toEqual([])
  })

  test('a row waiting for its retry blocks later rows of its chat, not other chats', async () => {
    await reset()
    const [a1, a2, b1] = await repos.deliveries.enqueueMany([job(chatA), job(chatA), job(chatB)])
    await repos.deliveries.claim({ accountId }, 1)
    expect(await repos.deliveries.fail(a1!.delivery.id, 'HTTP 503', new Date(Date.now() + 3_600_000))).toBe(
      'pending',
    )
    expect(ids(await repos.deliveries.claim({ accountId }))).toEqual([b1!.delivery.id])
    await db.sql`update deliveries set available_at = now() where id = ${a1!.delivery.id}`
    expect(ids(await repos.deliveries.claim({ accountId }))).toEqual([a1!.delivery.id, a2!.delivery.id])
  })

  test('rows without a chat are not ordered; scope by account and direction', async () => {
    await reset()
    const other = await seedAccount(repos)
    const [n1, n2] = await repos.deliveries.enqueueMany([job(null), job(null)])
    const [m1] = await repos.deliveries.enqueueMany([job(null, { direction: 'to_messenger' })])
    const [o1] = await repos.deliveries.enqueueMany([job(null, { accountId: other.id })])
    await repos.deliveries.claim({ accountId }, 1)
    expect(ids(await repos.deliveries.claim({ accountId, direction: 'to_portal' }))).toEqual([
      n2!.delivery.id,
    ])
    expect(ids(await repos.deliveries.claim({ direction: 'to_messenger' }))).toEqual([m1!.delivery.id])
    expect(ids(await repos.deliveries.claim({ accountId: other.id }))).toEqual([o1!.delivery.id])
    expect(n1).toBeDefined()
  })

  test('rows not yet available or past expiry are not handed out', async () => {
    await reset()
    await repos.deliveries.enqueue(job(chatA, { availableAt: new Date(Date.now() + 60_000) }))
    const expired = await repos.deliveries.enqueue(job(chatB, { expiresAt: new Date(Date.now() - 1000) }))
    const after = await repos.deliveries.enqueue(job(chatB))
    // The expired head of chat B no longer blocks it.
    expect(ids(await repos.deliveries.claim({ accountId }))).toEqual([after.delivery.id])
    expect(expired.delivery.status).toBe('pending')
  })

  test.skipIf(testBackendSet() === 'embedded')(
    'SKIP LOCKED: a row locked by another transaction is skipped, and so are later rows of its chat',
    async () => {
      await reset()
      const [a1, a2, b1] = await repos.deliveries.enqueueMany([job(chatA), job(chatA), job(chatB)])
      let release = () => {}
      const held = new Promise<void>((resolve) => {
        release = resolve
      })
      let locked = () => {}
      const isLocked = new Promise<void>((resolve) => {
        locked = resolve
      })
      const holder = db.sql.begin(async (tx) => {
        await tx`select id from deliveries where id = ${a1!.delivery.id} for update`
        locked()
        await held
      })
      await isLocked
      try {
        expect(ids(await repos.deliveries.claim({ accountId }))).toEqual([b1!.delivery.id])
      } finally {
        release()
        await holder
      }
      expect(ids(await repos.deliveries.claim({ accountId }))).toEqual([a1!.delivery.id, a2!.delivery.id])
    },
  )

  test.skipIf(testBackendSet() === 'embedded')(
    'two concurrent claimers on separate pools: every row once, per-chat order kept',
    async () => {
      await reset()
      const chats = [
        chatA,
        chatB,
        (await seedChat(repos, accountId)).id,
        (await seedChat(repos, accountId)).id,
      ]
      const inputs = Array.from({ length: 120 }, (_, i) => job(chats[i % chats.length]!))
      const enqueued = await repos.deliveries.enqueueMany(inputs)
      const chatOf = new Map(enqueued.map((r) => [r.delivery.id, r.delivery.chatId!]))
      const holding = [new Set<string>(), new Set<string>()]
      const processed = new Map<string, string[]>()
      const violations: string[] = []
      const pools: Sql[] = [connect(db.url, 2), connect(db.url, 2)]
      const worker = async (index: number) => {
        const mine = repositories(pools[index]!)
        const other = holding[1 - index]!
        for (let idle = 0; idle < 20; ) {
          const rows = await mine.deliveries.claim({ accountId }, 7)
          if (rows.length === 0) {
            idle++
            await Bun.sleep(2)
            continue
          }
          idle = 0
          for (const row of rows) {
            if ([...other].some((id) => chatOf.get(id) === row.chatId)) violations.push(row.id)
            holding[index]!.add(row.id)
          }
          for (const row of rows) {
            const list = processed.get(row.chatId!) ?? []
            list.push(row.id)
            processed.set(row.chatId!, list)
            holding[index]!.delete(row.id)
            await mine.deliveries.complete(row.id)
          }
        }
      }
      try {
        await Promise.all([worker(0), worker(1)])
      } finally {
        await Promise.all(pools.map((pool) => pool.end({ timeout: 1 })))
      }
      expect(violations).toEqual([])
      const all = [...processed.values()].flat()
      expect(all).toHaveLength(120)
      expect(new Set(all).size).toBe(120)
      for (const list of processed.values()) {
        expect(list).toEqual([...list].sort((a, b) => Number(a) - Number(b)))
      }
    },
  )
})

describe('DeliveryRepository: outcome', () => {
  test('R8: complete drops the body at once and keeps the idempotency key', async () => {
    await reset()
    const { delivery } = await repos.deliveries.enqueue(job(chatA))
    await repos.deliveries.claim({ accountId })
    expect(await repos.deliveries.complete(delivery.id)).toBe(true)
    expect(await repos.deliveries.complete(delivery.id)).toBe(false)
    const done = await repos.deliveries.get(delivery.id)
    expect(done).toMatchObject({ status: 'done', payload: null, lockedUntil: null })
    expect(done.finishedAt).toBeInstanceOf(Date)
    const [raw] = await db.sql<{ payloadEnc: Buffer | null }[]>`
      select payload_enc from deliveries where id = ${delivery.id}`
    expect(raw!.payloadEnc).toBeNull()
    const again = await repos.deliveries.enqueue({ ...job(chatA), idempotencyKey: delivery.idempotencyKey })
    expect(again).toMatchObject({ created: false, delivery: { id: delivery.id, status: 'done' } })
  })

  test('R8: fail retries, then dead-letters after max attempts, keeping the body for a retry until expiry', async () => {
    await reset()
    const { delivery } = await repos.deliveries.enqueue(job(chatA))
    const soon = new Date(Date.now() - 1)
    expect(await repos.deliveries.fail(delivery.id, 'timeout', soon)).toBe('pending')
    expect(await repos.deliveries.fail(delivery.id, 'timeout', soon)).toBe('pending')
    const retried = await repos.deliveries.get(delivery.id)
    expect(retried).toMatchObject({ attempts: 2, lastError: 'timeout', availableAt: soon })
    expect(await repos.deliveries.fail(delivery.id, 'x'.repeat(5000), soon)).toBe('dead')
    const dead = await repos.deliveries.get(delivery.id)
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, payload: delivery.payload })
    expect(dead.lastError).toHaveLength(2000)
    await expect(repos.deliveries.fail(delivery.id, 'again', soon)).rejects.toBeInstanceOf(
      DeliveryNotFoundError,
    )
  })

  test('R8: a retry that would fall past expires_at dead-letters at once', async () => {
    const { delivery } = await repos.deliveries.enqueue(
      job(chatA, { expiresAt: new Date(Date.now() + 60_000) }),
    )
    expect(await repos.deliveries.fail(delivery.id, 'later', new Date(Date.now() + 120_000))).toBe('dead')
    // Kept for an admin retry until expires_at, then dropped by the sweep (below).
    expect((await repos.deliveries.get(delivery.id)).payload).not.toBeNull()
  })

  test('deadLetter: at once; dropBody for a body that can never be delivered', async () => {
    await reset()
    const [kept, dropped] = await repos.deliveries.enqueueMany([job(chatA), job(chatB)])
    expect(await repos.deliveries.deadLetter(kept!.delivery.id, 'PEER_ID_INVALID')).toBe(true)
    expect(
      await repos.deliveries.deadLetter(dropped!.delivery.id, 'invalid payload', { dropBody: true }),
    ).toBe(true)
    expect(await repos.deliveries.get(kept!.delivery.id)).toMatchObject({
      status: 'dead',
      lastError: 'PEER_ID_INVALID',
      payload: kept!.delivery.payload,
    })
    expect(await repos.deliveries.get(dropped!.delivery.id)).toMatchObject({ status: 'dead', payload: null })
    expect(await repos.deliveries.deadLetter(kept!.delivery.id, 'again')).toBe(false)
  })

  test('requeueExpiredLocks releases rows of a vanished claimer and counts the attempt', async () => {
    await reset()
    const [a1, a2] = await repos.deliveries.enqueueMany([job(chatA), job(chatA)])
    await repos.deliveries.claim({ accountId }, 1, 1)
    await Bun.sleep(20)
    expect(await repos.deliveries.requeueExpiredLocks()).toBe(1)
    expect(await repos.deliveries.get(a1!.delivery.id)).toMatchObject({ status: 'pending', attempts: 1 })
    expect(ids(await repos.deliveries.claim({ accountId }, 20, 1))).toEqual([
      a1!.delivery.id,
      a2!.delivery.id,
    ])
    await db.sql`update deliveries set attempts = 2 where id = ${a1!.delivery.id}`
    await Bun.sleep(20)
    expect(await repos.deliveries.requeueExpiredLocks()).toBe(2)
    expect(await repos.deliveries.get(a1!.delivery.id)).toMatchObject({ status: 'dead', attempts: 3 })
    expect(await repos.deliveries.get(a2!.delivery.id)).toMatchObject({ status: 'pending', attempts: 1 })
  })

  test('requeueExpiredLocks releases claims of a dead instance long before their lock runs out', async () => {
    await reset()
    const deadAfterMs = 200
    const claimer = (instance: string) =>
      repositories(db.sql, { deliveries: { claimer: instance, claimerDeadAfterMs: deadAfterMs } }).deliveries
    const live = claimer('instance-live')
    const dead = claimer('instance-dead')
    await repos.accountLeases.heartbeat('instance-live')
    await repos.accountLeases.heartbeat('instance-dead')
    const [a1, b1] = await repos.deliveries.enqueueMany([job(chatA), job(chatB)])
    const [liveRow] = await live.claim({ accountId }, 1, 600_000)
    const [deadRow] = await dead.claim({ accountId }, 1, 600_000)
    expect([liveRow?.id, deadRow?.id]).toEqual([a1!.delivery.id, b1!.delivery.id])
    expect(deadRow).toMatchObject({ status: 'in_flight', claimedBy: 'instance-dead' })
    // Both instances alive: nothing moves even after the grace period.
    await Bun.sleep(deadAfterMs + 50)
    await repos.accountLeases.heartbeat('instance-live')
    await repos.accountLeases.heartbeat('instance-dead')
    expect(await live.requeueExpiredLocks()).toBe(0)
    // The dead one stops heartbeating; the live one goes on.
    await Bun.sleep(deadAfterMs + 50)
    await repos.accountLeases.heartbeat('instance-live')
    expect(await live.requeueExpiredLocks()).toBe(1)
    expect(await repos.deliveries.get(b1!.delivery.id)).toMatchObject({
      status: 'pending',
      attempts: 1,
      claimedBy: null,
      claimedAt: null,
    })
    expect(await repos.deliveries.get(a1!.delivery.id)).toMatchObject({
      status: 'in_flight',
      claimedBy: 'instance-live',
    })
    // Finishing a row clears its claimer.
    await live.complete(a1!.delivery.id)
    expect(await repos.deliveries.get(a1!.delivery.id)).toMatchObject({ status: 'done', claimedBy: null })
  })

  test("releaseOwnClaims takes back only this claimer's rows of one account and direction", async () => {
    await reset()
    const mine = repositories(db.sql, { deliveries: { claimer: 'instance-me' } }).deliveries
    const theirs = repositories(db.sql, { deliveries: { claimer: 'instance-other' } }).deliveries
    const other = await seedAccount(repos)
    const [a1, b1, m1, o1] = await repos.deliveries.enqueueMany([
      job(chatA),
      job(chatB),
      job(chatA, { direction: 'to_messenger' }),
      job(null, { accountId: other.id }),
    ])
    await theirs.claim({ accountId, direction: 'to_portal' }, 1)
    await mine.claim({ accountId, direction: 'to_portal' }, 5)
    await mine.claim({ accountId, direction: 'to_messenger' }, 5)
    await mine.claim({ accountId: other.id }, 5)
    expect(await mine.releaseOwnClaims(accountId, 'to_portal')).toBe(1)
    expect(await repos.deliveries.get(b1!.delivery.id)).toMatchObject({ status: 'pending', attempts: 1 })
    expect(await repos.deliveries.get(a1!.delivery.id)).toMatchObject({ claimedBy: 'instance-other' })
    for (const untouched of [m1, o1]) {
      expect(await repos.deliveries.get(untouched!.delivery.id)).toMatchObject({ status: 'in_flight' })
    }
    // A repository without a claimer never guesses.
    expect(await repos.deliveries.releaseOwnClaims(accountId, 'to_messenger')).toBe(0)
  })

  test('R8: expire ends rows past their 7 days (pending and dead letters) with only metadata kept', async () => {
    await reset()
    const old = await repos.deliveries.enqueue(job(chatA, { expiresAt: new Date(Date.now() - 1000) }))
    const live = await repos.deliveries.enqueue(job(chatB))
    const deadOld = await repos.deliveries.enqueue(job(chatB, { expiresAt: new Date(Date.now() + 60_000) }))
    await repos.deliveries.deadLetter(deadOld.delivery.id, 'PEER_ID_INVALID')
    await db.sql`update deliveries set expires_at = now() - interval '1 second' where id = ${deadOld.delivery.id}`
    expect(await repos.deliveries.expire()).toBe(2)
    expect(await repos.deliveries.get(old.delivery.id)).toMatchObject({ status: 'dead', payload: null })
    expect(await repos.deliveries.get(deadOld.delivery.id)).toMatchObject({
      status: 'dead',
      payload: null,
      lastError: 'PEER_ID_INVALID',
    })
    expect((await repos.deliveries.get(live.delivery.id)).status).toBe('pending')
    expect(await repos.deliveries.expire()).toBe(0)
    expect(await repos.deliveries.countByStatus()).toEqual({ pending: 1, in_flight: 0, done: 0, dead: 2 })
    expect(await repos.deliveries.purgeFinished(new Date(Date.now() - 60_000))).toBe(0)
    expect(await repos.deliveries.purgeFinished(new Date(Date.now() + 60_000))).toBe(2)
    await expect(repos.deliveries.get(old.delivery.id)).rejects.toBeInstanceOf(DeliveryNotFoundError)
  })
})
