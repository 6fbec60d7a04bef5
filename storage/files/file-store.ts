/**
 * @module Object storage for files in transfer (PRIVACY I4, S3, R8): a file lives here only until the portal
 * has fetched it. Keys are slash-separated and start with the owner (`p/<portal>/a/<account>/…`) so a whole
 * account or portal can be deleted by prefix. Bodies are streamed, never buffered whole.
 */
import type { Readable } from 'node:stream'

export interface PutOptions {
  contentType?: string
  /** Shown to the downloader (`Content-Disposition: attachment; filename*=…`). */
  fileName?: string
  /** Byte length when known: lets S3 take a single PUT instead of a multipart upload. */
  size?: number
}

export interface StoredObject {
  key: string
  size: number
  lastModified: Date
}

export interface FileStore {
  readonly kind: 's3' | 'local'
  /** Streams `body` to `key`, replacing an object already there. @returns the stored size in bytes. */
  put(key: string, body: Readable | ReadableStream<Uint8Array>, options?: PutOptions): Promise<number>
  /** A GET URL that works without credentials until `ttlSeconds` from now, then fails. */
  signedUrl(key: string, ttlSeconds: number): Promise<string>
  /** Streams an object's body (relay to messengers); undefined when it does not exist. */
  get(key: string): Promise<Readable | undefined>
  /** @returns whether it existed (S3 cannot tell and returns true). */
  delete(key: string): Promise<boolean>
  /** @returns how many objects were deleted. */
  deleteByPrefix(prefix: string): Promise<number>
  /** Objects under `prefix` last written before `olderThan` (TTL sweep of files nobody fetched). */
  listExpired(olderThan: Date, prefix?: string): AsyncIterable<StoredObject>
  /** Cheap round trip to the backend (readiness). Throws when unreachable. */
  check(): Promise<void>
}
