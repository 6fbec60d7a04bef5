import { afterAll, beforeAll, beforeEach, expect, test } from 'bun:test'
import { createHarness, enqueue, type Harness, makeDue, messagePayload, putFile, row } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness({ chats: 2 })
})
afterAll(() => h.close())
beforeEach(() => h.reset())

const linkParts = (url: string) => {
  const parsed = new URL(url)
  const key = decodeURIComponent(parsed.pathname.replace(/^\/files\//, ''))
  return { key, exp: parsed.searchParams.get('exp')!, sig: parsed.searchParams.get('sig')! }
}

test('files and avatars get a signed URL minted at send time; a retried row gets a fresh one', async () => {
  const [a] = h.chats
  const photo = await putFile(h, 'photo.jpg')
  const avatar = await putFile(h, 'avatar.png')
  const payload = messagePayload(a!, {
    id: 'f1',
    text: undefined,
    files: [{ objectKey: photo, name: 'photo.jpg', mime: 'image/jpeg' }],
  })
  const [queued] = await enqueue(h, [
    row(h, a!, 'message', { ...payload, user: { ...payload.user, pictureKey: avatar } }),
  ])
  // The portal downloads during the call (§5.8): every link must be valid right then.
  const checks: string[] = []
  h.portal.onCall = (call) => {
    for (const item of call.items) {
      const message = item.message as { files: { url: string }[] }
      const picture = (item.user as { picture: { url: string } }).picture
      for (const url of [...message.files.map((f) => f.url), picture.url]) {
        const { key, exp, sig } = linkParts(url)
        checks.push(h.files.verifyLink(key, exp, sig))
      }
    }
  }
  let failOnce = true
  h.portal.failItem = () => {
    if (!failOnce) return undefined
    failOnce = false
    return ['file download failed']
  }

  const sender = h.sender({ fileUrlTtlSeconds: 600 })
  const sentAt = Math.floor(h.clock.ms / 1000)
  await sender.drainAccount(h.accountId)
  // Later: the clock has moved on by the time the retry goes out.
  h.clock.ms += 3_600_000
  await makeDue(h)
  await sender.drainAccount(h.accountId)

  expect(h.portal.calls).toHaveLength(2)
  const [first, second] = h.portal.calls.map((call) => call.items[0]!)
  const fileOf = (item: typeof first) =>
    (item!.message as { files: { url: string; name: string; type: string }[] }).files[0]!
  expect(fileOf(first)).toMatchObject({ name: 'photo.jpg', type: 'image/jpeg' })
  const firstExp = Number(linkParts(fileOf(first).url).exp)
  const secondExp = Number(linkParts(fileOf(second).url).exp)
  expect(firstExp).toBe(sentAt + 600)
  expect(secondExp).toBe(firstExp + 3600)
  expect(linkParts((second!.user as { picture: { url: string } }).picture.url).exp).toBe(String(secondExp))
  expect(checks).toEqual(['ok', 'ok', 'ok', 'ok'])
  // Nothing about the file stays in the queue once delivered (R8).
  expect(await h.repos.deliveries.get(queued!.id)).toMatchObject({ status: 'done', payload: null })
})

/** Whether an object is there (the opened stream is closed at once). */
async function stored(key: string): Promise<boolean> {
  const body = await h.files.get(key)
  body?.destroy()
  return body !== undefined
}

test('S3/R8: a delivered file leaves object storage once the portal has it; a failed one stays for the retry', async () => {
  const [a] = h.chats
  const photo = await putFile(h, 'kept-until-delivered.jpg')
  const avatar = await putFile(h, 'avatar-kept.png')
  const payload = messagePayload(a!, {
    id: 'f-r8',
    text: 'see the photo',
    files: [{ objectKey: photo, name: 'photo.jpg', mime: 'image/jpeg' }],
  })
  await enqueue(h, [row(h, a!, 'message', { ...payload, user: { ...payload.user, pictureKey: avatar } })])
  let failOnce = true
  h.portal.failItem = () => {
    if (!failOnce) return undefined
    failOnce = false
    return ['temporary trouble']
  }
  const sender = h.sender()
  await sender.drainAccount(h.accountId)
  expect(await stored(photo)).toBe(true)
  h.clock.ms += 3_600_000
  await makeDue(h)
  await sender.drainAccount(h.accountId)
  expect(h.portal.calls).toHaveLength(2)
  expect(await stored(photo)).toBe(false)
  // The avatar is contact data (I2, R2), not a file in transfer: it stays.
  expect(await stored(avatar)).toBe(true)
})

test('files count against a per-call cap; a bad object key fails only its own row', async () => {
  const [a, b] = h.chats
  const key = await putFile(h, 'doc.pdf')
  const withFiles = (n: number) =>
    messagePayload(a!, {
      files: Array.from({ length: n }, (_, i) => ({ objectKey: key, name: `doc${i}.pdf` })),
    })
  const [, , , bad, after] = await enqueue(h, [
    row(h, a!, 'message', withFiles(4)),
    row(h, a!, 'message', withFiles(4)),
    row(h, a!, 'message', withFiles(4)),
    row(h, b!, 'message', messagePayload(b!, { files: [{ objectKey: 'bad key/../x', name: 'x' }] })),
    row(h, b!, 'message', messagePayload(b!, { id: 'b-after' })),
  ])
  const result = await h.sender({ maxFilesPerCall: 10 }).drainAccount(h.accountId)
  expect(result).toMatchObject({ delivered: 3, failed: 1, released: 1 })
  // 4 + 4 files in the first call, 4 in the second; the bad row never reached the portal.
  expect(h.portal.calls.map((call) => call.items.length)).toEqual([2, 1])
  expect((await h.repos.deliveries.get(bad!.id)).lastError).toContain('file link: InvalidKeyError')
  // b-after was grouped behind the bad row of its chat: held back with it, not sent ahead of it.
  expect(await h.repos.deliveries.get(after!.id)).toMatchObject({ status: 'pending', attempts: 0 })
})
