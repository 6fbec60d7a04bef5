/**
 * @module FileStore on any S3-compatible store (production). Bodies stream: a known size goes up in one
 * PutObject, an unknown one as a multipart upload of fixed-size parts, so memory stays at about two parts
 * whatever the file size. Listing pages with StartAfter so a caller may delete while iterating.
 */

import { readFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { pipeline, type Readable } from 'node:stream'
import { rootCertificates } from 'node:tls'
import {
  type _Object,
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { ByteCounter, readParts, toNodeReadable } from './body-stream.ts'
import { attachmentDisposition } from './content-disposition.ts'
import type { FileStore, PutOptions, StoredObject } from './file-store.ts'
import { assertKeyPrefix, assertObjectKey } from './object-key.ts'

/** 8 MiB: above S3's 5 MiB minimum part, and 10 000 parts still allow 80 GB. */
const DEFAULT_PART_SIZE = 8 * 1024 * 1024
const MIN_PART_SIZE = 5 * 1024 * 1024
/** DeleteObjects takes at most 1000 keys, the same as one ListObjectsV2 page. */
const PAGE_SIZE = 1000

export interface S3Connection {
  region: string
  endpoint?: string
  /** Path-style URLs (`endpoint/bucket/key`), needed by most S3-compatible stores. */
  forcePathStyle: boolean
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** PEM bundle trusted for an https endpoint besides the built-in roots (a private CA; PRIVACY S5). */
  caFile?: string | undefined
}

export type S3FileStoreOptions = {
  bucket: string
  /** Root of this store inside the bucket (e.g. `olchat/`), so the bucket can be shared. */
  prefix?: string
  /** Bytes per multipart part for bodies of unknown size (at least 5 MiB on real S3). */
  partSize?: number
} & ({ client: S3Client } | S3Connection)

export function createS3Client(connection: S3Connection): S3Client {
  return new S3Client({
    region: connection.region,
    endpoint: connection.endpoint,
    forcePathStyle: connection.forcePathStyle,
    credentials: connection.credentials,
    // Newer SDKs add CRC checksums to every request and check them on responses; many S3-compatible
    // stores (and s3rver) reject or lack them, so only send them where the API demands it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(connection.caFile ? { requestHandler: { httpsAgent: trustingAgent(connection.caFile) } } : {}),
  })
}

/** An https agent that also trusts the given CAs; `ca` alone would replace the built-in roots. */
function trustingAgent(caFile: string): Agent {
  // keepAlive and 50 sockets: what the SDK's own default agent uses.
  return new Agent({
    keepAlive: true,
    maxSockets: 50,
    ca: [...rootCertificates, readFileSync(caFile, 'utf8')],
  })
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404)
  )
}

/**
 * Bun (1.4.5) frees its native copy of each request body only at a garbage collection, and these copies
 * do not prompt one: a 300 MB upload in 8 MiB parts grew RSS by ~240 MB (measured), with a collection
 * after each part by ~80 MB, at ~10 ms per part. Node needs nothing here.
 */
function releaseRequestMemory(): void {
  if (typeof Bun !== 'undefined') Bun.gc(true)
}

export class S3FileStore implements FileStore {
  readonly kind = 's3' as const
  readonly client: S3Client
  readonly #bucket: string
  readonly #root: string
  readonly #partSize: number
  readonly #ownsClient: boolean

  constructor(options: S3FileStoreOptions) {
    this.#ownsClient = !('client' in options)
    this.client = 'client' in options ? options.client : createS3Client(options)
    this.#bucket = options.bucket
    const root = options.prefix ?? ''
    if (root !== '') assertKeyPrefix(root)
    this.#root = root === '' || root.endsWith('/') ? root : `${root}/`
    this.#partSize = options.partSize ?? DEFAULT_PART_SIZE
    if (this.#partSize < MIN_PART_SIZE) throw new Error('S3FileStore: partSize must be at least 5 MiB')
  }

  async put(
    key: string,
    body: Readable | ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<number> {
    assertObjectKey(key)
    const source = toNodeReadable(body)
    const headers = {
      Bucket: this.#bucket,
      Key: this.#root + key,
      ContentType: options.contentType ?? 'application/octet-stream',
      // Kept on the object, so every GET (also through a presigned link) names the file: no HEAD per link.
      ContentDisposition: attachmentDisposition(options.fileName),
    }
    if (options.size !== undefined) {
      // The SDK pipes the body without watching it for errors: abort the request ourselves, or a short
      // body would leave it waiting for the missing bytes.
      const controller = new AbortController()
      const checked = pipeline(source, new ByteCounter(options.size), (error) => {
        if (error) controller.abort(error)
      })
      const command = new PutObjectCommand({ ...headers, Body: checked, ContentLength: options.size })
      try {
        await this.client.send(command, { abortSignal: controller.signal })
      } catch (error) {
        // Also when S3 refused early: stop pulling from the messenger.
        source.destroy()
        throw controller.signal.aborted ? controller.signal.reason : error
      }
      return options.size
    }
    return this.#putUnknownSize(headers, source)
  }

  /** One PutObject when the body fits in one part, else a multipart upload, aborted on failure. */
  async #putUnknownSize(headers: { Bucket: string; Key: string }, source: Readable): Promise<number> {
    const parts = readParts(source, this.#partSize)
    const nextPart = async () => {
      const result = await parts.next()
      return result.done ? undefined : result.value
    }
    const first = await nextPart()
    const second = first && (await nextPart())
    if (!second) {
      const body = first ?? Buffer.alloc(0)
      await this.client.send(new PutObjectCommand({ ...headers, Body: body, ContentLength: body.length }))
      return body.length
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand(headers))
    const target = { Bucket: headers.Bucket, Key: headers.Key, UploadId }
    const uploaded: { ETag: string | undefined; PartNumber: number }[] = []
    let size = 0
    try {
      const queue = [first, second]
      for (let part = queue.shift(); part; part = queue.shift() ?? (await nextPart())) {
        const PartNumber = uploaded.length + 1
        const result = await this.client.send(
          new UploadPartCommand({ ...target, PartNumber, Body: part, ContentLength: part.length }),
        )
        uploaded.push({ ETag: result.ETag, PartNumber })
        size += part.length
        releaseRequestMemory()
      }
      const MultipartUpload = { Parts: uploaded }
      await this.client.send(new CompleteMultipartUploadCommand({ ...target, MultipartUpload }))
      return size
    } catch (error) {
      source.destroy()
      // Best effort: a lifecycle rule for incomplete uploads covers stores where this fails.
      await this.client.send(new AbortMultipartUploadCommand(target)).catch(() => {})
      throw error
    }
  }

  async signedUrl(key: string, ttlSeconds: number): Promise<string> {
    assertObjectKey(key)
    const command = new GetObjectCommand({ Bucket: this.#bucket, Key: this.#root + key })
    return getSignedUrl(this.client, command, { expiresIn: Math.ceil(ttlSeconds) })
  }

  async get(key: string): Promise<Readable | undefined> {
    assertObjectKey(key)
    try {
      const result = await this.client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#root + key }),
      )
      // In Node and Bun the SDK's body is an http.IncomingMessage, a Readable.
      return result.Body as Readable
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw error
    }
  }

  async delete(key: string): Promise<boolean> {
    assertObjectKey(key)
    await this.client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#root + key }))
    return true
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    assertKeyPrefix(prefix)
    let deleted = 0
    for await (const page of this.#pages(prefix)) {
      if (page.length === 0) continue
      const result = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.#bucket,
          Delete: { Objects: page.map((object) => ({ Key: object.Key })), Quiet: false },
        }),
      )
      const failed = result.Errors ?? []
      if (failed.length > 0) {
        throw new Error(
          `S3 refused to delete ${failed.length} objects: ${failed[0]?.Code} ${failed[0]?.Message}`,
        )
      }
      deleted += result.Deleted?.length ?? 0
    }
    return deleted
  }

  async *listExpired(olderThan: Date, prefix?: string): AsyncIterable<StoredObject> {
    if (prefix !== undefined && prefix !== '') assertKeyPrefix(prefix)
    for await (const page of this.#pages(prefix ?? '')) {
      for (const object of page) {
        if (object.Key === undefined || object.LastModified === undefined) continue
        if (object.LastModified.getTime() >= olderThan.getTime()) continue
        yield {
          key: object.Key.slice(this.#root.length),
          size: object.Size ?? 0,
          lastModified: object.LastModified,
        }
      }
    }
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.#bucket }))
  }

  /** Closes the sockets of a client this store created (shutdown, tests); a client passed in stays open. */
  close(): void {
    if (this.#ownsClient) this.client.destroy()
  }

  /** Pages of objects under `prefix`; each page starts after the last key seen, not at a server cursor. */
  async *#pages(prefix: string): AsyncGenerator<_Object[]> {
    let startAfter: string | undefined
    for (;;) {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#root + prefix,
          StartAfter: startAfter,
          MaxKeys: PAGE_SIZE,
        }),
      )
      const objects = page.Contents ?? []
      yield objects
      const last = objects.at(-1)?.Key
      if (!page.IsTruncated || last === undefined) return
      startAfter = last
    }
  }
}
