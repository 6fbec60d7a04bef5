import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type Bitrix24Emulator, startBitrix24Emulator } from './index.ts'
import { installedPortal, rest, type Sink, startSink } from './testkit.ts'

let emulator: Bitrix24Emulator
let sink: Sink

beforeEach(async () => {
  sink = startSink()
  emulator = await startBitrix24Emulator({ rateLimit: { drainPerSecond: 1000, burst: 1000 } })
  sink.handle('/redirect', () => new Response(null, { status: 302, headers: { location: '/files/photo' } }))
  sink.handle('/loop', () => new Response(null, { status: 302, headers: { location: '/loop' } }))
  sink.handle(
    '/files/photo',
    () => new Response(new Uint8Array([1, 2, 3, 4]), { headers: { 'content-type': 'image/png' } }),
  )
  sink.handle('/files/named', () => new Response('abc'))
  sink.handle(
    '/files/dir/',
    () => new Response('pdf', { headers: { 'content-disposition': 'attachment; filename="report.pdf"' } }),
  )
  sink.respond('/missing', 404, 'nope')
  sink.handle('/created', () => new Response('abc', { status: 201 }))
  sink.handle('/avatar.jpg', () => new Response('jpg', { headers: { 'content-type': 'image/jpeg' } }))
})
afterEach(async () => {
  await emulator.stop()
  await sink.stop()
})

function send(token: string, files: unknown[], text = '', user: Record<string, unknown> = { id: '42' }) {
  return rest(
    emulator,
    'imconnector.send.messages',
    {
      CONNECTOR: 'acme_tg',
      LINE: 12,
      MESSAGES: [{ user, message: { id: 'm1', text, files }, chat: { id: 'c1' } }],
    },
    token,
  )
}

type FileState = {
  files: { url: string; status: string; name: string; size: number; sha256: string; redirects: number }[]
}

describe('the portal downloads every file URL itself (§5.8, pitfall 4)', () => {
  test('redirects followed, User-Agent "Bitrix Connector Client", custom headers sent', async () => {
    const { token } = await installedPortal(emulator, sink)
    const answer = await send(token, [
      { url: `${sink.url}/redirect`, name: 'cat.png', headers: [{ name: 'X-Token', value: 's3cret' }] },
    ])
    const item = (answer.body.result as { DATA: { RESULT: Record<string, unknown>[] } }).DATA.RESULT[0]!
    expect(item.SUCCESS).toBe(true)
    const hits = sink.on('/redirect').concat(sink.on('/files/photo'))
    expect(hits).toHaveLength(2)
    for (const hit of hits) {
      expect(hit.headers.get('user-agent')).toBe('Bitrix Connector Client')
      expect(hit.headers.get('x-token')).toBe('s3cret')
    }
    const state = emulator.state() as FileState
    const digest = new Bun.CryptoHasher('sha256').update(new Uint8Array([1, 2, 3, 4])).digest('hex')
    expect(state.files[0]).toMatchObject({
      status: 'downloaded',
      name: 'cat.png',
      size: 4,
      sha256: digest,
      redirects: 1,
    })
    expect((emulator.stats() as { filesDownloaded: number }).filesDownloaded).toBe(1)
  })

  test('name from the URL path, else Content-Disposition; extension from MIME', async () => {
    const { token } = await installedPortal(emulator, sink)
    await send(token, [
      { url: `${sink.url}/files/photo` },
      { url: `${sink.url}/files/named` },
      { url: `${sink.url}/files/dir/` },
    ])
    const names = (emulator.state() as FileState).files.map((f) => f.name)
    expect(names).toEqual(['photo.png', 'named.txt', 'report.pdf'])
  })

  test('failures (404, other 2xx, redirect loops, refused) are recorded and dropped', async () => {
    const { token } = await installedPortal(emulator, sink)
    const answer = await send(
      token,
      [
        { url: `${sink.url}/missing` },
        { url: `${sink.url}/created` },
        { url: `${sink.url}/loop` },
        { url: 'http://127.0.0.1:1/nothing' },
        { url: `${sink.url}/files/photo` },
      ],
      '',
    )
    const item = (
      answer.body.result as { DATA: { RESULT: { SUCCESS: boolean; message: { files: unknown[] } }[] } }
    ).DATA.RESULT[0]!
    expect(item.SUCCESS).toBe(true)
    expect(item.message.files).toEqual([{ url: `${sink.url}/files/photo` }])
    const stats = emulator.stats() as { filesFailed: number; fileFailures: { url: string; reason: string }[] }
    expect(stats.filesFailed).toBe(4)
    expect(stats.fileFailures.map((f) => f.reason.split(':')[0])).toEqual(
      expect.arrayContaining(['HTTP 404', 'HTTP 201', 'too many redirects']),
    )
  })

  test('all files failing and no text → the item fails (NOT_ALL_THE_REQUIRED_DATA)', async () => {
    const { token } = await installedPortal(emulator, sink)
    const answer = await send(token, [{ url: `${sink.url}/missing` }])
    expect(answer.status).toBe(200)
    const result = answer.body.result as { SUCCESS: boolean; DATA: { RESULT: unknown[] } }
    expect(result.SUCCESS).toBe(true)
    expect(result.DATA.RESULT[0]).toEqual({
      SUCCESS: false,
      ERRORS: ['Not all required data has been provided'],
    })
    expect((emulator.state() as { chats: unknown[] }).chats).toEqual([])
  })

  test('avatars (user.picture.url) are downloaded too (pitfall 5), again only on change', async () => {
    const { token } = await installedPortal(emulator, sink)
    await send(token, [], 'hi', { id: '42', name: 'Ivan', picture: { url: `${sink.url}/avatar.jpg` } })
    await send(token, [], 'hi again', { id: '42', name: 'Ivan', picture: { url: `${sink.url}/avatar.jpg` } })
    await send(token, [], 'renamed', { id: '42', name: 'Ivan P', picture: { url: `${sink.url}/avatar.jpg` } })
    expect(sink.on('/avatar.jpg')).toHaveLength(1)
    const user = (emulator.state() as { externalUsers: { picture: { status: string }; updates: number }[] })
      .externalUsers[0]!
    expect(user.picture.status).toBe('downloaded')
    expect(user.updates).toBe(1)
  })
})
