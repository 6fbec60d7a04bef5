/**
 * The local store's own promises beyond the shared contract: its download links (signature, expiry, headers,
 * HEAD) through the real route in-process, key confinement, and what it leaves on disk.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createFileRoutes } from '../../src/http/files-route.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import { InvalidKeyError } from '../../storage/files/object-key.ts'

const BASE_URL = 'https://olchat.example.com'

let root: string
let dir: string
let now = Date.now()
let store: LocalFileStore
let app: ReturnType<typeof createFileRoutes>

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'olchat-local-files-'))
  dir = join(root, 'store')
  store = new LocalFileStore({ dir, baseUrl: BASE_URL, signingKey: randomBytes(32), now: () => now })
  app = createFileRoutes(store)
})
afterAll(() => rm(root, { recursive: true, force: true }))

function body(text: string): Readable {
  return Readable.from([Buffer.from(text)])
}

/** The route as mounted at the app root, fed the path and query of a link. */
function request(link: string, method = 'GET'): Promise<Response> {
  const url = new URL(link)
  return Promise.resolve(app.request(url.pathname + url.search, { method }))
}

async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name))
}

describe('LocalFileStore download links', () => {
  test('a fresh link serves the file with private, exact headers', async () => {
    await store.put('p/1/a/2/doc', body('hello'), { contentType: 'text/plain', fileName: 'hello.txt' })
    const link = await store.signedUrl('p/1/a/2/doc', 300)
    expect(link).toMatch(/^https:\/\/olchat\.example\.com\/files\/p\/1\/a\/2\/doc\?exp=\d+&sig=[0-9a-f]{64}$/)
    const response = await request(link)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('hello')
    expect(response.headers.get('content-type')).toBe('text/plain')
    expect(response.headers.get('content-length')).toBe('5')
    expect(response.headers.get('cache-control')).toBe('private, no-store')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
  })

  test('HEAD gives the headers without a body', async () => {
    await store.put('p/1/a/2/head', body('12345678'), { contentType: 'application/pdf' })
    const response = await request(await store.signedUrl('p/1/a/2/head', 300), 'HEAD')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-length')).toBe('8')
    expect(response.headers.get('content-type')).toBe('application/pdf')
    expect(await response.text()).toBe('')
  })

  test('an expired link is refused with 403', async () => {
    await store.put('p/1/a/2/old', body('old'))
    const link = await store.signedUrl('p/1/a/2/old', 60)
    now += 59_000
    expect((await request(link)).status).toBe(200)
    now += 2_000
    const response = await request(link)
    expect(response.status).toBe(403)
    expect(await response.json()).toEqual({ error: 'link_expired' })
    expect(response.headers.get('cache-control')).toBe('private, no-store')
  })

  test('a tampered signature, key or expiry is refused with 403', async () => {
    await store.put('p/1/a/2/mine', body('mine'))
    await store.put('p/1/a/2/theirs', body('theirs'))
    const link = new URL(await store.signedUrl('p/1/a/2/mine', 300))
    const sig = link.searchParams.get('sig')!
    const exp = link.searchParams.get('exp')!
    const flipped = (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1)
    const forgeries = [
      `/files/p/1/a/2/mine?exp=${exp}&sig=${flipped}`,
      `/files/p/1/a/2/theirs?exp=${exp}&sig=${sig}`,
      `/files/p/1/a/2/mine?exp=${Number(exp) + 3600}&sig=${sig}`,
      `/files/p/1/a/2/mine?exp=${exp}&sig=${sig.slice(0, 63)}`,
      `/files/p/1/a/2/mine?exp=${exp}`,
      '/files/p/1/a/2/mine',
    ]
    for (const path of forgeries) {
      const response = await app.request(path)
      expect(response.status).toBe(403)
      expect(await response.json()).toEqual({ error: 'invalid_link' })
    }
  })

  test('a valid link to a deleted file is 404', async () => {
    await store.put('p/1/a/2/gone', body('gone'))
    const link = await store.signedUrl('p/1/a/2/gone', 300)
    await store.delete('p/1/a/2/gone')
    const response = await request(link)
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ error: 'not_found' })
    expect((await request(link, 'HEAD')).status).toBe(404)
  })

  test('a non-ASCII file name reaches Content-Disposition as RFC 5987 filename*', async () => {
    await store.put('p/1/a/2/ru', body('отчёт'), { fileName: 'Отчёт за май "финал".pdf' })
    const response = await request(await store.signedUrl('p/1/a/2/ru', 300))
    const disposition = response.headers.get('content-disposition')!
    expect(disposition).toStartWith('attachment; filename="')
    expect(disposition).toContain(`filename*=UTF-8''${encodeURIComponent('Отчёт')}`)
    expect(disposition).not.toMatch(/[^\x20-\x7e]/)
    const encoded = /filename\*=UTF-8''(.+)$/.exec(disposition)![1]!
    expect(decodeURIComponent(encoded)).toBe('Отчёт за май "финал".pdf')
    expect(response.headers.get('content-type')).toBe('application/octet-stream')
  })

  test('path traversal through the route is refused', async () => {
    const { search } = new URL(await store.signedUrl('p/1/a/2/doc', 300))
    // Encoded slashes reach the route and fail key validation; `%2E%2E` segments are resolved by the URL
    // parser itself, so that request never reaches the route at all.
    const attempts = [
      ['..%2F..%2Fetc%2Fpasswd', 403],
      ['p/1/..%2F..%2Fmeta/p/1/a/2/doc.json', 403],
      ['p/1/a/2/%2E%2E/doc', 403],
      ['%2E%2E/%2E%2E/etc/passwd', 404],
    ] as const
    for (const [path, status] of attempts) {
      const response = await app.request(`/files/${path}${search}`)
      expect(response.status).toBe(status)
      expect(await response.text()).not.toContain('hello')
    }
  })
})

describe('LocalFileStore on disk', () => {
  test('traversal and malformed keys are rejected before touching the disk', async () => {
    for (const key of ['../outside', 'p/../../outside', '/tmp/abs', 'p//x', 'p/./x', 'p/x y', 'p/\u0000']) {
      await expect(store.put(key, body('x'))).rejects.toBeInstanceOf(InvalidKeyError)
      await expect(store.signedUrl(key, 60)).rejects.toBeInstanceOf(InvalidKeyError)
    }
    expect(await filesUnder(root).then((files) => files.filter((file) => !file.startsWith(dir)))).toEqual([])
  })

  test('metadata never counts as an object and leaves with it', async () => {
    await store.put('p/9/a/1/x', body('x'), { contentType: 'text/plain', fileName: 'x.txt' })
    await store.put('p/9/a/1/y', body('y'), { fileName: 'y.txt' })
    const listed = []
    for await (const object of store.listExpired(new Date(now + 60_000), 'p/9/')) listed.push(object.key)
    expect(listed.sort()).toEqual(['p/9/a/1/x', 'p/9/a/1/y'])
    expect(await store.deleteByPrefix('p/9/')).toBe(2)
    expect(await filesUnder(join(dir, 'meta', 'p', '9'))).toEqual([])
    expect(await readdir(join(dir, 'objects', 'p')).then((names) => names.includes('9'))).toBe(false)
  })

  test('delete tells whether the object existed', async () => {
    await store.put('p/8/once', body('1'))
    expect(await store.delete('p/8/once')).toBe(true)
    expect(await store.delete('p/8/once')).toBe(false)
  })

  test('files are private to the service user', async () => {
    await store.put('p/7/secret', body('s'))
    expect((await stat(join(dir, 'objects', 'p', '7', 'secret'))).mode & 0o777).toBe(0o600)
  })

  test('a failed write leaves nothing behind', async () => {
    async function* failing() {
      yield Buffer.from('half a file')
      throw new Error('source failed')
    }
    await expect(store.put('p/6/broken', Readable.from(failing()))).rejects.toThrow('source failed')
    expect(await filesUnder(join(dir, 'tmp'))).toEqual([])
    expect(await store.describe('p/6/broken')).toBeUndefined()
  })

  test('the TTL sweep also removes temp files a crash left behind', async () => {
    const stale = join(dir, 'tmp', 'crashed-upload')
    const fresh = join(dir, 'tmp', 'upload-in-progress')
    await mkdir(join(dir, 'tmp'), { recursive: true })
    await writeFile(stale, 'partial')
    await writeFile(fresh, 'partial')
    const longAgo = new Date(now - 2 * 3600_000)
    await utimes(stale, longAgo, longAgo)
    for await (const _ of store.listExpired(new Date(now + 60_000), 'p/none/')) {
      // nothing under this prefix
    }
    expect(await filesUnder(join(dir, 'tmp'))).toEqual([fresh])
    await rm(fresh)
  })

  test('a key that names a directory of other keys is not an object', async () => {
    await store.put('p/5/dir/file', body('f'))
    expect(await store.get('p/5/dir')).toBeUndefined()
    expect(await store.delete('p/5/dir')).toBe(false)
  })
})
