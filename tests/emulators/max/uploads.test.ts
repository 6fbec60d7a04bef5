/** Conformance: the upload flow (reference §5.3), attachment.not.ready (§5.4) and attachments both ways (§4.5, §5.1). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { call } from './conformance.ts'
import { type MaxEmulatorServer, startMaxEmulator } from './index.ts'

let emu: MaxEmulatorServer
let token: string
let userId: number
let chatId: number

beforeAll(async () => {
  emu = await startMaxEmulator({ rateLimitPerSecond: null, pollRateLimitPerSecond: null })
  ;({ token } = emu.createBot())
  ;({ userId } = emu.createUser())
  ;({ chatId } = await emu.userStartsBot(token, userId))
})
afterAll(() => emu.close())

const bytes = (n: number, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * seed) % 251)

async function uploadMultipart(url: string, data: Uint8Array, name: string, mime: string) {
  const form = new FormData()
  form.append('data', new File([data], name, { type: mime }))
  return fetch(url, { method: 'POST', body: form })
}

const send = (body: unknown) => call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, body)

describe('upload flow (§5.3)', () => {
  test('file: URL → multipart "data" → token; the first send is attachment.not.ready, the retry lands', async () => {
    const slot = await call(emu.url, token, 'POST', '/uploads?type=file')
    expect(slot.status).toBe(200)
    expect(Object.keys(slot.body)).toEqual(['url'])
    const data = bytes(48_211)
    const uploaded = await uploadMultipart(slot.body.url, data, 'invoice.pdf', 'application/pdf')
    const { token: fileToken } = (await uploaded.json()) as { token: string }
    expect(typeof fileToken).toBe('string')
    const attachments = [{ type: 'file', payload: { token: fileToken } }]
    const first = await send({ text: 'Your invoice', attachments })
    expect([first.status, first.body]).toEqual([
      400,
      { code: 'attachment.not.ready', message: 'Key: errors.process.attachment.file.not.processed' },
    ])
    const second = await send({ text: 'Your invoice', attachments })
    expect(second.status).toBe(200)
    expect(second.body.message.body.attachments[0]).toMatchObject({
      type: 'file',
      filename: 'invoice.pdf',
      size: 48_211,
      payload: { token: fileToken },
    })
    const m = emu.botMessages(token, chatId).find((b) => b.mid === second.body.message.body.mid)!
    expect(m.attachments[0]).toMatchObject({
      type: 'file',
      name: 'invoice.pdf',
      mime: 'application/pdf',
      token: fileToken,
    })
    expect(m.attachments[0]!.bytes).toEqual(data)
    expect(emu.botMessages(token, chatId).length).toBe(1)
  })

  test('image: the upload answers photos{key:{token}}; both attach forms work', async () => {
    emu.configure({ notReadyAttempts: 0 })
    try {
      const slot = await call(emu.url, token, 'POST', '/uploads?type=image')
      const res = await uploadMultipart(slot.body.url, bytes(100), 'p.png', 'image/png')
      const { photos } = (await res.json()) as { photos: Record<string, { token: string }> }
      const [photo] = Object.values(photos)
      const byPhotos = await send({ attachments: [{ type: 'image', payload: { photos } }] })
      const byToken = await send({ attachments: [{ type: 'image', payload: { token: photo!.token } }] })
      for (const r of [byPhotos, byToken]) {
        expect(r.status).toBe(200)
        const shown = r.body.message.body.attachments[0]
        expect(new Uint8Array(await (await fetch(shown.payload.url)).arrayBuffer())).toEqual(bytes(100))
        expect(shown).toMatchObject({
          type: 'image',
          payload: { token: photo!.token, photo_id: expect.any(Number) },
        })
      }
      const byUrl = await send({
        attachments: [{ type: 'image', payload: { url: 'https://example.com/a.png' } }],
      })
      expect(byUrl.body.message.body.attachments[0].payload.url).toBe('https://example.com/a.png')
    } finally {
      emu.configure({ notReadyAttempts: 1 })
    }
  })

  test('video: the token comes with the URL and the upload answers <retval>1</retval>', async () => {
    const slot = await call(emu.url, token, 'POST', '/uploads?type=video')
    expect(Object.keys(slot.body).sort()).toEqual(['token', 'url'])
    const res = await uploadMultipart(slot.body.url, bytes(5000), 'clip.mp4', 'video/mp4')
    expect(await res.text()).toBe('<retval>1</retval>')
    const info = await call(emu.url, token, 'GET', `/videos/${slot.body.token}`)
    expect(info.body).toMatchObject({ token: slot.body.token, urls: { mp4_720: expect.any(String) } })
    await send({ attachments: [{ type: 'video', payload: { token: slot.body.token } }] })
    const ok = await send({ attachments: [{ type: 'video', payload: { token: slot.body.token } }] })
    expect(ok.status).toBe(200)
  })

  test('resumable: chunks with Content-Range assemble the file; GET reports progress', async () => {
    const slot = await call(emu.url, token, 'POST', '/uploads?type=audio')
    const data = bytes(3000, 13)
    const put = (from: number, to: number) =>
      fetch(slot.body.url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes ${from}-${to}/3000` },
        body: data.slice(from, to + 1),
      })
    expect((await put(0, 1023)).status).toBe(201)
    expect(await (await fetch(slot.body.url)).json()).toMatchObject({ status: 'in_progress', received: 1024 })
    expect((await put(1024, 2999)).status).toBe(200)
    expect((await put(0, 10)).status).toBe(400)
    await send({ attachments: [{ type: 'audio', payload: { token: slot.body.token } }] })
    const ok = await send({ attachments: [{ type: 'audio', payload: { token: slot.body.token } }] })
    const m = emu.botMessages(token, chatId).find((b) => b.mid === ok.body.message.body.mid)!
    expect(m.attachments[0]!.bytes).toEqual(data)
  })

  test('type=photo is refused; an upload URL takes one file; unknown tokens are refused', async () => {
    expect((await call(emu.url, token, 'POST', '/uploads?type=photo')).status).toBe(400)
    expect((await call(emu.url, token, 'POST', '/uploads')).status).toBe(400)
    const slot = await call(emu.url, token, 'POST', '/uploads?type=file')
    expect((await uploadMultipart(slot.body.url, bytes(10), 'a.txt', 'text/plain')).status).toBe(200)
    expect((await uploadMultipart(slot.body.url, bytes(10), 'b.txt', 'text/plain')).status).toBe(400)
    const res = await send({ attachments: [{ type: 'file', payload: { token: 'nope' } }] })
    expect(res.status).toBe(400)
  })

  test('attachmentNotReady(K) holds the next K sends with uploaded media', async () => {
    emu.configure({ notReadyAttempts: 0 })
    try {
      const slot = await call(emu.url, token, 'POST', '/uploads?type=file')
      const { token: t } = (await (
        await uploadMultipart(slot.body.url, bytes(10), 'k.txt', 'text/plain')
      ).json()) as {
        token: string
      }
      emu.faults.attachmentNotReady(2)
      const body = { attachments: [{ type: 'file', payload: { token: t } }] }
      expect((await send(body)).body.code).toBe('attachment.not.ready')
      expect((await send({ text: 'plain text is not held' })).status).toBe(200)
      expect((await send(body)).body.code).toBe('attachment.not.ready')
      expect((await send(body)).status).toBe(200)
    } finally {
      emu.configure({ notReadyAttempts: 1 })
    }
  })

  test('audio, file, sticker and contact must be the only media attachment (§5.1 ⚠)', async () => {
    const res = await send({
      attachments: [
        { type: 'sticker', payload: { code: 'abc' } },
        { type: 'location', latitude: 1, longitude: 2 },
      ],
    })
    expect([res.status, res.body.code]).toEqual([400, 'proto.payload'])
    const withKeyboard = await send({
      attachments: [
        { type: 'sticker', payload: { code: 'abc' } },
        {
          type: 'inline_keyboard',
          payload: { buttons: [[{ type: 'link', text: 'Site', url: 'https://example.com' }]] },
        },
      ],
    })
    expect(withKeyboard.status).toBe(200)
  })
})

describe('customer attachments (§4.5, §7)', () => {
  test('file, image, sticker, contact, location and share arrive in the documented shapes with downloadable URLs', async () => {
    const doc = bytes(777)
    await emu.userSends(token, userId, {
      text: 'doc',
      file: { name: 'scan.pdf', mime: 'application/pdf', bytes: doc },
    })
    await emu.userSends(token, userId, { file: { name: 'cat.jpg', mime: 'image/jpeg', bytes: bytes(64) } })
    await emu.userSends(token, userId, { file: { name: 'v.ogg', mime: 'audio/ogg', bytes: bytes(64) } })
    await emu.userSends(token, userId, { file: { name: 'v.mp4', mime: 'video/mp4', bytes: bytes(64) } })
    await emu.userSends(token, userId, { sticker: { code: 'smile' } })
    await emu.userSends(token, userId, { contact: { name: 'Ivan Petrov', phone: '79991234567' } })
    await emu.userSends(token, userId, { location: { latitude: 55.75, longitude: 37.61 } })
    await emu.userSends(token, userId, { share: { url: 'https://example.com', title: 'Example' } })
    const { updates } = (await call(emu.url, token, 'GET', '/updates?timeout=0&types=message_created')).body
    const shown = updates
      .slice(-8)
      .map((u: { message: { body: { attachments: unknown[] } } }) => u.message.body.attachments[0])
    const [file, image, audio, video, sticker, contact, location, share] = shown
    // Download first: Bun's toMatchObject with asymmetric matchers may rewrite the matched fields.
    const fileBytes = new Uint8Array(await (await fetch(file.payload.url)).arrayBuffer())
    const stickerType = (await fetch(sticker.payload.url)).headers.get('content-type')
    expect(file).toMatchObject({
      type: 'file',
      filename: 'scan.pdf',
      size: 777,
      payload: { url: expect.any(String), token: expect.any(String) },
    })
    expect(fileBytes).toEqual(doc)
    expect(image).toMatchObject({
      type: 'image',
      payload: { photo_id: expect.any(Number), token: expect.any(String), url: expect.any(String) },
    })
    expect(audio).toMatchObject({
      type: 'audio',
      payload: { url: expect.any(String), token: expect.any(String) },
    })
    expect(video).toMatchObject({
      type: 'video',
      payload: { url: expect.any(String), token: expect.any(String) },
    })
    expect(sticker).toMatchObject({
      type: 'sticker',
      payload: { code: 'smile', url: expect.any(String) },
      width: 128,
      height: 128,
    })
    expect(stickerType).toBe('image/png')
    expect(contact.payload.vcf_info).toContain('TEL;TYPE=cell:79991234567')
    expect(contact.payload.max_info).toMatchObject({ user_id: userId })
    expect(typeof contact.payload.hash).toBe('string')
    expect(location).toEqual({ type: 'location', latitude: 55.75, longitude: 37.61 })
    expect(share).toMatchObject({ type: 'share', payload: { url: 'https://example.com' }, title: 'Example' })
  })

  test('a raw attachment of any type passes through as given', async () => {
    const raw = { type: 'future_thing', payload: { x: 1 } }
    await emu.userSends(token, userId, { attachment: raw })
    const { updates } = (await call(emu.url, token, 'GET', '/updates?timeout=0&types=message_created')).body
    expect(updates.at(-1).message.body.attachments).toEqual([raw])
  })
})
