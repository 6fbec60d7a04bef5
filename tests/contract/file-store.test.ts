/**
 * One contract for every FileStore: the same suite runs on S3 (s3rver, real wire protocol) and on the local
 * directory store behind its real HTTP route, both fetched with the global fetch like Bitrix24 would.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createFileRoutes } from '../../src/http/files-route.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import { InvalidKeyError } from '../../storage/files/object-key.ts'
import { S3FileStore } from '../../storage/files/s3-file-store.ts'
import { startS3rver } from '../support/s3rver.ts'

interface Fixture {
  store: FileStore
  /** A store of the same kind whose backend is missing (no bucket, unwritable directory). */
  broken: FileStore
  /** Makes an object older, where the backend allows it (S3 does not: its LastModified is the server's). */
  backdate?: (key: string, to: Date) => Promise<void>
  close(): Promise<void>
}

const MiB = 1024 * 1024

async function readAll(stream: Readable | undefined): Promise<Buffer> {
  if (!stream) throw new Error('object is missing')
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function nodeStream(bytes: Buffer, chunkSize = 64 * 1024): Readable {
  const chunks: Buffer[] = []
  for (let offset = 0; offset < bytes.length; offset += chunkSize)
    chunks.push(bytes.subarray(offset, offset + chunkSize))
  return Readable.from(chunks, { objectMode: false })
}

function webStream(bytes: Buffer, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close()
      controller.enqueue(new Uint8Array(bytes.subarray(offset, offset + chunkSize)))
      offset += chunkSize
    },
  })
}

/** `size` bytes made one 256 KiB chunk at a time; `digest()` is the SHA-1 of what was produced. */
function generated(size: number): { stream: Readable; digest(): string } {
  const hash = createHash('sha1')
  let sent = 0
  const stream = new Readable({
    read() {
      if (sent >= size) return void this.push(null)
      const length = Math.min(256 * 1024, size - sent)
      const chunk = Buffer.allocUnsafe(length).fill(sent % 251)
      chunk.writeUInt32BE(sent >>> 0, 0)
      sent += length
      hash.update(chunk)
      this.push(chunk)
    },
  })
  return { stream, digest: () => hash.digest('hex') }
}

async function sha1(stream: Readable | undefined): Promise<string> {
  if (!stream) throw new Error('object is missing')
  const hash = createHash('sha1')
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = []
  for await (const item of items) all.push(item)
  return all
}

async function s3Fixture(): Promise<Fixture> {
  // A separate process, so the memory test measures our side of the upload only.
  const s3 = await startS3rver({ separateProcess: true })
  const connection = {
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3.credentials,
  }
  const store = new S3FileStore({ ...connection, bucket: s3.bucket, prefix: 'olchat' })
  const broken = new S3FileStore({ ...connection, bucket: 'no-such-bucket' })
  return {
    store,
    broken,
    async close() {
      store.close()
      broken.close()
      await s3.stop()
    },
  }
}

async function localFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'olchat-files-'))
  let routes: ReturnType<typeof createFileRoutes> | undefined
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => routes!.fetch(request) })
  const signingKey = randomBytes(32)
  const store = new LocalFileStore({ dir: join(dir, 'store'), baseUrl: server.url.origin, signingKey })
  routes = createFileRoutes(store)
  const blocker = join(dir, 'not-a-directory')
  await writeFile(blocker, '')
  const broken = new LocalFileStore({ dir: join(blocker, 'store'), baseUrl: server.url.origin, signingKey })
  return {
    store,
    broken,
    backdate: (key, to) => utimes(join(dir, 'store', 'objects', key), to, to),
    async close() {
      await server.stop(true)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function fileStoreContract(name: string, setUp: () => Promise<Fixture>): void {
  describe(`FileStore contract: ${name}`, () => {
    let fixture: Fixture
    let store: FileStore
    beforeAll(async () => {
      fixture = await setUp()
      store = fixture.store
    })
    afterAll(() => fixture.close())

    test.each([
      ['Node Readable, size known', 'node', true, 300_000],
      ['Node Readable, size unknown', 'node', false, 300_000],
      ['web ReadableStream, size known', 'web', true, 300_000],
      ['web ReadableStream, size unknown', 'web', false, 300_000],
      ['Node Readable, size unknown, several parts', 'node', false, 20 * MiB + 123],
      ['empty body', 'web', false, 0],
    ] as const)('put then get returns the same bytes: %s', async (_, kind, known, length) => {
      const bytes = randomBytes(length)
      const key = `p/put/${kind}-${known}-${length}.bin`
      const body = kind === 'node' ? nodeStream(bytes) : webStream(bytes)
      expect(await store.put(key, body, known ? { size: length } : {})).toBe(length)
      expect((await readAll(await store.get(key))).equals(bytes)).toBe(true)
    })

    test('put replaces the object and its metadata', async () => {
      const key = 'p/replace/file'
      await store.put(key, nodeStream(Buffer.from('first version')), { contentType: 'text/plain' })
      await store.put(key, webStream(Buffer.from('{"second":true}')), { contentType: 'application/json' })
      expect((await readAll(await store.get(key))).toString()).toBe('{"second":true}')
      const response = await fetch(await store.signedUrl(key, 60))
      expect(response.headers.get('content-type')).toBe('application/json')
      expect(await response.text()).toBe('{"second":true}')
    })

    test('a body that breaks its declared size is refused and not stored', async () => {
      const key = 'p/size/short'
      const put = store.put(key, nodeStream(Buffer.from('12345')), { size: 10 })
      await expect(put).rejects.toThrow()
      expect(await store.get(key)).toBeUndefined()
    })

    test('a body stream that fails is refused and not stored', async () => {
      const key = 'p/size/failing'
      async function* failing() {
        yield Buffer.from('partial')
        throw new Error('messenger connection lost')
      }
      await expect(store.put(key, Readable.from(failing()))).rejects.toThrow('messenger connection lost')
      expect(await store.get(key)).toBeUndefined()
    })

    test('get of a missing key is undefined', async () => {
      expect(await store.get('p/none/missing.bin')).toBeUndefined()
    })

    test('a signed URL serves the bytes, content type and file name to a plain fetch', async () => {
      const bytes = randomBytes(70_000)
      const key = 'p/link/a/1/photo'
      await store.put(key, nodeStream(bytes), { contentType: 'image/jpeg', fileName: 'Фото отпуск.jpg' })
      const response = await fetch(await store.signedUrl(key, 60))
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('image/jpeg')
      expect(response.headers.get('content-disposition')).toContain(
        `filename*=UTF-8''${encodeURIComponent('Фото отпуск.jpg')}`,
      )
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true)
    })

    test('delete removes the object', async () => {
      const key = 'p/delete/one'
      await store.put(key, nodeStream(Buffer.from('bye')))
      expect(await store.delete(key)).toBe(true)
      expect(await store.get(key)).toBeUndefined()
    })

    test('deleteByPrefix deletes exactly the objects under the prefix and counts them', async () => {
      const inside = ['p/dp/a/1', 'p/dp/a/2', 'p/dp/a/sub/3']
      const outside = ['p/dp/ab/4', 'p/dp/b/5']
      for (const key of [...inside, ...outside]) {
        await store.put(key, nodeStream(Buffer.from(key)), { contentType: 'text/plain', fileName: 'x.txt' })
      }
      expect(await store.deleteByPrefix('p/dp/a/')).toBe(3)
      for (const key of inside) expect(await store.get(key)).toBeUndefined()
      for (const key of outside) expect((await readAll(await store.get(key))).toString()).toBe(key)
      const left = await collect(store.listExpired(new Date(Date.now() + 60_000), 'p/dp/'))
      expect(left.map((object) => object.key).sort()).toEqual(outside)
      expect(await store.deleteByPrefix('p/dp/a/')).toBe(0)
    })

    test('deleteByPrefix and listExpired page through more than 1000 objects', async () => {
      const keys = Array.from({ length: 1010 }, (_, index) => `p/many/${String(index).padStart(4, '0')}`)
      for (let start = 0; start < keys.length; start += 10) {
        await Promise.all(
          keys.slice(start, start + 10).map((key) => store.put(key, nodeStream(Buffer.from('x')))),
        )
      }
      const listed = await collect(store.listExpired(new Date(Date.now() + 60_000), 'p/many/'))
      expect(listed.map((object) => object.key).sort()).toEqual(keys)
      expect(await store.deleteByPrefix('p/many/')).toBe(1010)
      expect(await collect(store.listExpired(new Date(Date.now() + 60_000), 'p/many/'))).toEqual([])
    }, 60_000)

    test('listExpired returns objects written before the cut-off, not later ones', async () => {
      await store.put('p/ttl/a', nodeStream(Buffer.from('aaaa')))
      await store.put('p/ttl/b', nodeStream(Buffer.from('bb')))
      await store.put('p/other/c', nodeStream(Buffer.from('c')))
      const everything = await collect(store.listExpired(new Date(Date.now() + 60_000), 'p/ttl/'))
      expect(
        everything.map(({ key, size }) => ({ key, size })).sort((x, y) => x.key.localeCompare(y.key)),
      ).toEqual([
        { key: 'p/ttl/a', size: 4 },
        { key: 'p/ttl/b', size: 2 },
      ])
      for (const object of everything) expect(object.lastModified).toBeInstanceOf(Date)
      expect(await collect(store.listExpired(new Date(Date.now() - 60_000), 'p/ttl/'))).toEqual([])
    })

    test('listExpired tells an old object from a fresh one (where objects can be backdated)', async () => {
      if (!fixture.backdate) return
      await store.put('p/age/old', nodeStream(Buffer.from('old')))
      await store.put('p/age/new', nodeStream(Buffer.from('new')))
      await fixture.backdate('p/age/old', new Date(Date.now() - 3 * 3600_000))
      const expired = await collect(store.listExpired(new Date(Date.now() - 3600_000), 'p/age/'))
      expect(expired.map((object) => object.key)).toEqual(['p/age/old'])
    })

    test('keys that could escape their place are refused', async () => {
      for (const key of ['../x', 'p/../../x', '/etc/passwd', 'p//x', 'p/x/', 'p/ä', 'p x', '']) {
        await expect(store.put(key, nodeStream(Buffer.from('x')))).rejects.toBeInstanceOf(InvalidKeyError)
      }
      await expect(store.deleteByPrefix('')).rejects.toBeInstanceOf(InvalidKeyError)
      await expect(store.deleteByPrefix('../')).rejects.toBeInstanceOf(InvalidKeyError)
    })

    test('check passes, and fails when the backend is missing', async () => {
      await store.check()
      await expect(fixture.broken.check()).rejects.toThrow()
    })

    test.each([
      ['unknown', false],
      ['known', true],
    ] as const)(
      'a 300 MB body of %s size streams through in bounded memory',
      async (_, known) => {
        const size = 300 * MiB
        const key = `p/big/${known ? 'known' : 'unknown'}.bin`
        const source = generated(size)
        Bun.gc(true)
        const before = process.memoryUsage().rss
        let peak = before
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().rss)
        }, 20)
        try {
          expect(await store.put(key, source.stream, known ? { size } : {})).toBe(size)
        } finally {
          clearInterval(sampler)
        }
        peak = Math.max(peak, process.memoryUsage().rss)
        expect((peak - before) / MiB).toBeLessThan(120)
        expect(await sha1(await store.get(key))).toBe(source.digest())
        expect(await store.delete(key)).toBe(true)
        expect(await store.get(key)).toBeUndefined()
      },
      60_000,
    )
  })
}

fileStoreContract('s3 (s3rver)', s3Fixture)
fileStoreContract('local directory', localFixture)
