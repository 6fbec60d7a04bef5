/**
 * `/api/v1/dead-letters`: metadata only, filtered by account or by the token's portal; retry puts a dead
 * letter back to pending while its body exists and its 7 days have not passed (R8).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { auditActions, createHarness, type Harness, json } from './harness.ts'

let h: Harness
let accountA: string
let accountB: string

async function deadLetter(
  accountId: string,
  { body = false, expired = false }: { body?: boolean; expired?: boolean } = {},
) {
  const key = `dl-${crypto.randomUUID()}`
  const { delivery } = await h.repos.deliveries.enqueue({
    accountId,
    direction: 'to_messenger',
    kind: 'message',
    idempotencyKey: key,
    payload: { text: 'secret words' },
    ...(expired ? { expiresAt: new Date(Date.now() + 50) } : {}),
  })
  if (expired) await Bun.sleep(60)
  await h.db.sql`
    update deliveries set status = 'dead', finished_at = now(), attempts = 10, last_error = 'PEER_BLOCKED',
      payload_enc = case when ${body} then payload_enc end
    where id = ${delivery.id}`
  return delivery.id
}

beforeAll(async () => {
  h = await createHarness()
  accountA = (await h.repos.accounts.create({ portalId: h.portalA, messenger: 'sandbox' })).id
  accountB = (await h.repos.accounts.create({ portalId: h.portalB, messenger: 'sandbox' })).id
})
afterAll(() => h.close())

describe('dead letters', () => {
  test('listed newest first with the reason, never the body; by account or by portal', async () => {
    const first = await deadLetter(accountA)
    const second = await deadLetter(accountA, { body: true })
    const foreign = await deadLetter(accountB)
    const res = await h.call('GET', `/api/v1/dead-letters?account=${accountA}`, h.tokens.support)
    expect(res.status).toBe(200)
    const { deadLetters } = await json(res)
    expect(deadLetters.map((d: { id: string }) => d.id)).toEqual([second, first])
    expect(deadLetters[0]).toMatchObject({ lastError: 'PEER_BLOCKED', attempts: 10, retryable: true })
    expect(deadLetters[1].retryable).toBe(false)
    expect(JSON.stringify(deadLetters)).not.toContain('secret words')

    const all = await json(await h.call('GET', '/api/v1/dead-letters', h.tokens.support))
    expect(all.deadLetters.map((d: { id: string }) => d.id)).toContain(foreign)
    const scoped = await json(await h.call('GET', '/api/v1/dead-letters', h.tokens.otherPortal))
    expect(scoped.deadLetters.map((d: { id: string }) => d.id)).toEqual([foreign])
    const limited = await json(await h.call('GET', '/api/v1/dead-letters?limit=1', h.tokens.support))
    expect(limited.deadLetters).toHaveLength(1)
    expect((await h.call('GET', '/api/v1/dead-letters?limit=0', h.tokens.support)).status).toBe(400)
  })

  test('retry: back to pending with its body; audited', async () => {
    const id = await deadLetter(accountA, { body: true })
    const res = await h.call('POST', `/api/v1/dead-letters/${id}/retry`, h.tokens.support)
    expect(res.status).toBe(200)
    expect(await json(res)).toEqual({ id, status: 'pending' })
    const row = await h.repos.deliveries.get(id)
    expect(row).toMatchObject({ status: 'pending', attempts: 0, finishedAt: null })
    expect(row.payload).toEqual({ text: 'secret words' })
    expect(await auditActions(h)).toContain('dead_letter.retried')
    // No longer a dead letter.
    expect((await h.call('POST', `/api/v1/dead-letters/${id}/retry`, h.tokens.support)).status).toBe(404)
  })

  test('retry is refused once the body is gone or the 7 days have passed', async () => {
    const dropped = await deadLetter(accountA)
    const refused = await h.call('POST', `/api/v1/dead-letters/${dropped}/retry`, h.tokens.support)
    expect(refused.status).toBe(409)
    expect((await json(refused)).error).toBe('not_retryable')
    const expired = await deadLetter(accountA, { body: true, expired: true })
    expect((await h.call('POST', `/api/v1/dead-letters/${expired}/retry`, h.tokens.support)).status).toBe(409)
    expect((await h.repos.deliveries.get(expired)).status).toBe('dead')
  })

  test("another portal's token cannot see or retry them", async () => {
    const id = await deadLetter(accountA, { body: true })
    const list = await h.call('GET', `/api/v1/dead-letters?account=${accountA}`, h.tokens.otherPortal)
    expect(list.status).toBe(403)
    expect((await h.call('POST', `/api/v1/dead-letters/${id}/retry`, h.tokens.otherPortal)).status).toBe(403)
    expect((await h.repos.deliveries.get(id)).status).toBe('dead')
  })
})
