import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { inboundObjectKey } from '../../src/relay/keys.ts'
import { orphanFilesSweep } from '../../src/retention/orphan-files-sweep.ts'
import { seedAccount, seedChat, seedPortal } from '../storage/fixtures.ts'
import { DAY, objectKeys, openRetentionStores, putText, type RetentionStores, sweepDeps } from './support.ts'

let stores: RetentionStores
beforeAll(async () => {
  stores = await openRetentionStores({ files: true })
})
afterAll(() => stores.close())

const TTL = 60_000

describe('R8 sweep: files in transfer', () => {
  test('R8: a file no job needs any more is deleted after the link lifetime; a queued, a just-sent and a foreign one stay; past 7 days only a queued one stays', async () => {
    const portal = await seedPortal(stores.repos)
    const busy = await seedAccount(stores.repos, portal.id)
    const idle = await seedAccount(stores.repos, portal.id)
    const chat = await seedChat(stores.repos, busy.id)
    const queued = inboundObjectKey(portal.id, busy.id)
    const orphan = inboundObjectKey(portal.id, idle.id)
    const justSent = inboundObjectKey(portal.id, busy.id)
    const foreign = `p/${portal.id}/a/${busy.id}/avatars/photo.jpg`
    for (const key of [queued, orphan, justSent, foreign]) await putText(stores.files, key)
    const t0 = Date.now()
    const { delivery: pending } = await stores.repos.deliveries.enqueue({
      accountId: busy.id,
      chatId: chat.id,
      direction: 'to_portal',
      kind: 'message',
      idempotencyKey: 'queued-file',
      payload: {
        chat: { id: '1' },
        user: { id: '2' },
        message: { id: '3', date: 1, files: [{ objectKey: queued, name: 'a.jpg' }] },
      },
    })
    // The portal was just sent a message of `busy` created after `justSent` was written (its body is gone).
    const { delivery: sent } = await stores.repos.deliveries.enqueue({
      accountId: busy.id,
      chatId: chat.id,
      direction: 'to_portal',
      kind: 'message',
      idempotencyKey: 'just-sent',
      payload: { message: { files: [{ objectKey: justSent }] } },
    })
    await stores.repos.deliveries.complete(sent.id)
    const finishAt = (at: number) =>
      stores.db.sql`update deliveries set finished_at = ${new Date(at)} where id = ${sent.id}`

    // Younger than the link lifetime: nothing is even looked at.
    expect(await orphanFilesSweep.run(sweepDeps(stores, new Date(t0), { fileTtlMs: TTL }))).toEqual({
      deleted: {},
      more: false,
    })

    const twoMinutesOn = t0 + 2 * TTL
    await finishAt(twoMinutesOn - TTL / 2)
    const first = await orphanFilesSweep.run(sweepDeps(stores, new Date(twoMinutesOn), { fileTtlMs: TTL }))
    expect(first).toEqual({ deleted: { objects: 1 }, more: false })
    expect(await objectKeys(stores.files)).toEqual([queued, justSent, foreign].sort())

    // Past the R8 period a recent send no longer saves it; the queued job's file still stays.
    const eightDaysOn = t0 + 8 * DAY
    await finishAt(eightDaysOn - 10_000)
    const late = await orphanFilesSweep.run(sweepDeps(stores, new Date(eightDaysOn), { fileTtlMs: TTL }))
    expect(late.deleted).toEqual({ objects: 1 })
    expect(await objectKeys(stores.files)).toEqual([queued, foreign].sort())

    // Delivered: its body is dropped, and so the file goes at the next sweep.
    await stores.repos.deliveries.complete(pending.id)
    await orphanFilesSweep.run(sweepDeps(stores, new Date(eightDaysOn), { fileTtlMs: TTL }))
    expect(await objectKeys(stores.files)).toEqual([foreign])
  })
})
