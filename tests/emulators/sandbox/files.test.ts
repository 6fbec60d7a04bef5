import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { type SandboxMessenger, startSandbox } from './index.ts'
import { api, control, Live } from './testkit.ts'

let sandbox: SandboxMessenger
let account: number
let customer: number
let token: string

beforeEach(async () => {
  sandbox = await startSandbox()
  account = (await control(sandbox, 'create-account', { phone: '+15550100' })).id
  customer = (await control(sandbox, 'create-customer', { name: 'Ann' })).id
  token = (await control(sandbox, 'create-session', { account })).session
})
afterEach(() => sandbox.stop())

const MB = 1024 * 1024

/** Deterministic pseudo-random bytes, so a wrong offset or a dropped chunk shows. */
function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** A chunked body with no content-length, as a streaming client sends it. */
function chunked(data: Uint8Array, chunk = 256 * 1024): ReadableStream<Uint8Array> {
  let at = 0
  return new ReadableStream({
    pull(controller) {
      if (at >= data.length) return controller.close()
      controller.enqueue(data.subarray(at, at + chunk))
      at += chunk
    },
  })
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

describe('files: streamed uploads and downloads', () => {
  test('the account uploads 4 MB chunked and sends it; the sandbox holds the same bytes', async () => {
    const data = bytes(4 * MB + 123, 7)
    const res = await fetch(`${sandbox.url}/v1/files`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/pdf',
        'x-file-name': encodeURIComponent('счёт №5.pdf'),
      },
      body: chunked(data),
    })
    const { file } = (await res.json()) as { file: { id: string; size: number; sha256: string } }
    expect(file).toMatchObject({ name: 'счёт №5.pdf', mime: 'application/pdf', size: data.length })
    expect(file.sha256).toBe(sha256(data))
    const sent = await api(sandbox, 'POST', `/v1/chats/${customer}/messages`, {
      token,
      body: { fileId: file.id, text: 'your invoice', randomId: 'inv-5' },
    })
    expect(sent.body.message).toMatchObject({
      text: 'your invoice',
      file: { id: file.id, size: data.length },
    })
    const stored = await fetch(`${sandbox.url}/_control/files/${file.id}`)
    expect(sha256(new Uint8Array(await stored.arrayBuffer()))).toBe(file.sha256)
    expect(sandbox.stats()).toMatchObject({
      filesUploaded: 1,
      bytesUploaded: data.length,
      messagesReceived: 1,
    })
  })

  test('a customer’s 3 MB file arrives as an update; the account downloads it, others cannot', async () => {
    const live = new Live(sandbox, token)
    await live.ready()
    const data = bytes(3 * MB, 11)
    const upload = await fetch(`${sandbox.url}/_control/upload-file?name=photo.jpg&mime=image/jpeg`, {
      method: 'POST',
      body: chunked(data),
    })
    const uploaded = (await upload.json()) as { id: string }
    await control(sandbox, 'customer-send', { customer, account, fileId: uploaded.id })
    const update = await live.next((f) => f.type === 'message.new')
    expect(update.message.file).toEqual({
      id: uploaded.id,
      name: 'photo.jpg',
      mime: 'image/jpeg',
      size: data.length,
      sha256: sha256(data),
    })
    const download = await fetch(`${sandbox.url}/v1/files/${uploaded.id}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(download.headers.get('content-type')).toBe('image/jpeg')
    expect(download.headers.get('content-length')).toBe(String(data.length))
    expect(download.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''photo.jpg")
    let received = 0
    const hash = createHash('sha256')
    for await (const chunk of download.body!) {
      received += chunk.byteLength
      hash.update(chunk)
    }
    expect([received, hash.digest('hex')]).toEqual([data.length, sha256(data)])
    const stranger = await control(sandbox, 'create-account', { phone: '+15550999' })
    const other = (await control(sandbox, 'create-session', { account: stranger.id })).session
    const denied = await api(sandbox, 'GET', `/v1/files/${uploaded.id}`, { token: other })
    expect([denied.status, denied.body.error]).toEqual([400, 'FILE_ID_INVALID'])
    await live.close()
  })

  test('control files by size (a known pattern) or text; an empty upload is refused', async () => {
    const sent = await control(sandbox, 'customer-send', {
      customer,
      account,
      text: 'see attached',
      file: { name: 'big.bin', size: 200_000 },
    })
    const body = new Uint8Array(
      await (
        await fetch(`${sandbox.url}/v1/files/${sent.file.id}`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).arrayBuffer(),
    )
    expect(body.length).toBe(200_000)
    expect([body[0], body[250], body[251], body[199_999]]).toEqual([0, 250, 0, 199_999 % 251])
    const note = await control(sandbox, 'customer-send', {
      customer,
      account,
      file: { name: 'a.txt', text: 'hi' },
    })
    expect(note.file).toMatchObject({ size: 2, mime: 'application/octet-stream' })
    const empty = await fetch(`${sandbox.url}/v1/files?name=x`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: new Uint8Array(0),
    })
    expect([empty.status, ((await empty.json()) as { error: string }).error]).toEqual([
      400,
      'FILE_PARTS_INVALID',
    ])
  })
})
