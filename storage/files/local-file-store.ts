/**
 * @module FileStore on a local directory (embedded mode), served by our own HMAC-signed links
 * (src/http/files-route.ts). Layout under `dir`: `objects/<key>` holds the bytes, `meta/<key>.json` the
 * content type and file name (a separate tree, so it never counts as an object), `tmp/` the writes in
 * progress — a write lands under its key only by rename, so readers see the old file or the new one.
 */
import { randomUUID } from 'node:crypto'
import { createWriteStream, type Dirent, type Stats } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ByteCounter, toNodeReadable } from './body-stream.ts'
import type { FileStore, PutOptions, StoredObject } from './file-store.ts'
import { assertKeyPrefix, assertObjectKey } from './object-key.ts'
import { fileLink, type LinkCheck, signFileLink, verifyFileLink } from './signed-url.ts'

export interface LocalFileStoreOptions {
  dir: string
  /** Public origin (and base path) of this app, e.g. `https://olchat.example.com`. */
  baseUrl: string
  /** HMAC key of the download links; at least 32 bytes. */
  signingKey: Buffer
  /** Milliseconds since the epoch; tests move it past a link's expiry. */
  now?: () => number
}

export interface LocalFileInfo {
  key: string
  size: number
  lastModified: Date
  contentType?: string
  fileName?: string
}

interface Sidecar {
  contentType?: string
  fileName?: string
}

const PRIVATE_FILE = 0o600
const PRIVATE_DIR = 0o700
const TEMP_IDLE_MS = 60 * 60 * 1000

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

/** "Not there" in all its forms: also a key whose parent is a file, or a key naming a directory. */
function isMissing(error: unknown): boolean {
  const code = errorCode(error)
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR'
}

export class LocalFileStore implements FileStore {
  readonly kind = 'local' as const
  readonly #objects: string
  readonly #meta: string
  readonly #tmp: string
  readonly #baseUrl: string
  readonly #signingKey: Buffer
  readonly #now: () => number

  constructor(options: LocalFileStoreOptions) {
    if (options.signingKey.length < 32) {
      throw new Error('LocalFileStore: signingKey must be at least 32 bytes')
    }
    this.#objects = join(options.dir, 'objects')
    this.#meta = join(options.dir, 'meta')
    this.#tmp = join(options.dir, 'tmp')
    this.#baseUrl = options.baseUrl
    this.#signingKey = options.signingKey
    this.#now = options.now ?? Date.now
  }

  async put(
    key: string,
    body: Readable | ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<number> {
    assertObjectKey(key)
    const source = toNodeReadable(body)
    await mkdir(this.#tmp, { recursive: true, mode: PRIVATE_DIR })
    const tmpData = join(this.#tmp, randomUUID())
    const tmpMeta = `${tmpData}.json`
    const counter = new ByteCounter(options.size)
    try {
      await pipeline(source, counter, createWriteStream(tmpData, { flags: 'wx', mode: PRIVATE_FILE }))
      const sidecar: Sidecar = { contentType: options.contentType, fileName: options.fileName }
      await writeFile(tmpMeta, JSON.stringify(sidecar), { flag: 'wx', mode: PRIVATE_FILE })
      // Metadata first: a reader racing this put may pair new metadata with old bytes, never the reverse.
      await this.#install(tmpMeta, this.#metaPath(key))
      await this.#install(tmpData, this.#dataPath(key))
      return counter.bytes
    } catch (error) {
      source.destroy()
      await Promise.all([rm(tmpData, { force: true }), rm(tmpMeta, { force: true })])
      throw error
    }
  }

  async signedUrl(key: string, ttlSeconds: number): Promise<string> {
    assertObjectKey(key)
    const exp = Math.floor(this.#now() / 1000) + Math.ceil(ttlSeconds)
    return fileLink(this.#baseUrl, key, exp, signFileLink(this.#signingKey, key, exp))
  }

  /** Checks the `exp` and `sig` of a download link for `key`, as received in its query string. */
  verifyLink(key: string, exp: string | undefined, sig: string | undefined): LinkCheck {
    return verifyFileLink(this.#signingKey, key, exp, sig, this.#now())
  }

  async get(key: string): Promise<Readable | undefined> {
    return (await this.openFile(key))?.body
  }

  /** Size and metadata without opening the bytes (HEAD). */
  async describe(key: string): Promise<LocalFileInfo | undefined> {
    assertObjectKey(key)
    let stats: Stats
    try {
      stats = await stat(this.#dataPath(key))
    } catch (error) {
      if (isMissing(error)) return undefined
      throw error
    }
    if (!stats.isFile()) return undefined
    return { key, size: stats.size, lastModified: stats.mtime, ...(await this.#readSidecar(key)) }
  }

  /**
   * Opens the bytes and describes them from the same file descriptor, so size and body agree even when a put
   * replaces the key meanwhile. The stream closes the descriptor when it ends or is destroyed.
   */
  async openFile(key: string): Promise<{ info: LocalFileInfo; body: Readable } | undefined> {
    assertObjectKey(key)
    let handle: Awaited<ReturnType<typeof open>>
    try {
      handle = await open(this.#dataPath(key), 'r')
    } catch (error) {
      if (isMissing(error)) return undefined
      throw error
    }
    try {
      const stats = await handle.stat()
      if (!stats.isFile()) {
        await handle.close()
        return undefined
      }
      const info = { key, size: stats.size, lastModified: stats.mtime, ...(await this.#readSidecar(key)) }
      return { info, body: handle.createReadStream() }
    } catch (error) {
      await handle.close()
      throw error
    }
  }

  async delete(key: string): Promise<boolean> {
    assertObjectKey(key)
    try {
      await unlink(this.#dataPath(key))
    } catch (error) {
      if (isMissing(error)) return false
      throw error
    }
    await rm(this.#metaPath(key), { force: true })
    await Promise.all([
      this.#prune(dirname(this.#dataPath(key)), this.#objects),
      this.#prune(dirname(this.#metaPath(key)), this.#meta),
    ])
    return true
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    assertKeyPrefix(prefix)
    let deleted = 0
    for await (const { key } of this.#walk(prefix)) {
      if (await this.delete(key)) deleted++
    }
    return deleted
  }

  /** Also removes writes a crash left in `tmp/`: they hold file bytes too (R8). */
  async *listExpired(olderThan: Date, prefix?: string): AsyncIterable<StoredObject> {
    if (prefix !== undefined && prefix !== '') assertKeyPrefix(prefix)
    await this.#sweepTemp(olderThan)
    for await (const { key, path } of this.#walk(prefix ?? '')) {
      let stats: Stats
      try {
        stats = await stat(path)
      } catch (error) {
        if (isMissing(error)) continue
        throw error
      }
      if (stats.isFile() && stats.mtime.getTime() < olderThan.getTime()) {
        yield { key, size: stats.size, lastModified: stats.mtime }
      }
    }
  }

  /** Creates the directories and writes a probe: fails when the directory is not writable. */
  async check(): Promise<void> {
    for (const dir of [this.#objects, this.#meta, this.#tmp]) {
      await mkdir(dir, { recursive: true, mode: PRIVATE_DIR })
    }
    const probe = join(this.#tmp, `check-${randomUUID()}`)
    await writeFile(probe, '', { flag: 'wx', mode: PRIVATE_FILE })
    await unlink(probe)
  }

  #dataPath(key: string): string {
    return this.#inside(this.#objects, key)
  }

  #metaPath(key: string): string {
    return this.#inside(this.#meta, `${key}.json`)
  }

  /** Key validation already excludes escapes; this second check keeps a future bug from writing elsewhere. */
  #inside(root: string, relative: string): string {
    const path = join(root, relative)
    if (!path.startsWith(root + sep)) throw new Error(`path escapes the store: ${relative}`)
    return path
  }

  async #readSidecar(key: string): Promise<Sidecar> {
    try {
      const { contentType, fileName } = JSON.parse(await readFile(this.#metaPath(key), 'utf8')) as Sidecar
      return { contentType, fileName }
    } catch (error) {
      if (isMissing(error)) return {}
      throw error
    }
  }

  /** Renames into place; retried once because a concurrent delete may prune the fresh parent directory. */
  async #install(from: string, to: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await mkdir(dirname(to), { recursive: true, mode: PRIVATE_DIR })
      try {
        await rename(from, to)
        return
      } catch (error) {
        if (errorCode(error) !== 'ENOENT' || attempt > 0) throw error
      }
    }
  }

  /** Removes empty directories from `dir` up to (not including) `root`; stops at the first non-empty one. */
  async #prune(dir: string, root: string): Promise<void> {
    for (let current = dir; current.startsWith(root + sep); current = dirname(current)) {
      try {
        await rmdir(current)
      } catch {
        return
      }
    }
  }

  /** Files under `prefix` (plain string prefix of the key, as in S3), walked from its deepest directory. */
  async *#walk(prefix: string): AsyncGenerator<{ key: string; path: string }> {
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1)
    const pending = [base]
    while (pending.length > 0) {
      const relative = pending.pop()!
      let entries: Dirent[]
      try {
        entries = await readdir(join(this.#objects, relative), { withFileTypes: true })
      } catch (error) {
        if (isMissing(error)) continue
        throw error
      }
      for (const entry of entries) {
        const key = relative + entry.name
        if (entry.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) pending.push(`${key}/`)
        } else if (entry.isFile() && key.startsWith(prefix)) {
          yield { key, path: join(this.#objects, key) }
        }
      }
    }
  }

  /** A write in progress touches its file at every chunk, so one idle for an hour is abandoned. */
  async #sweepTemp(olderThan: Date): Promise<void> {
    const cutoff = Math.min(olderThan.getTime(), this.#now() - TEMP_IDLE_MS)
    let names: string[]
    try {
      names = await readdir(this.#tmp)
    } catch (error) {
      if (isMissing(error)) return
      throw error
    }
    for (const name of names) {
      const path = join(this.#tmp, name)
      const stats = await stat(path).catch(() => undefined)
      if (stats && stats.mtime.getTime() < cutoff) await rm(path, { force: true })
    }
  }
}
