/**
 * @module Stream plumbing shared by both stores: one Node stream type inside, a size check when the caller
 * promised a size, and fixed-size parts for multipart uploads — never the whole body in memory.
 */
import { Readable, Transform } from 'node:stream'
import type { ReadableStream as NodeWebStream } from 'node:stream/web'

export class SizeMismatchError extends Error {
  override name = 'SizeMismatchError'
}

export function toNodeReadable(body: Readable | ReadableStream<Uint8Array>): Readable {
  if (body instanceof Readable) return body
  return Readable.fromWeb(body as unknown as NodeWebStream<Uint8Array>)
}

/** Passes bytes through, counting them; fails the stream when a declared size is not met exactly. */
export class ByteCounter extends Transform {
  bytes = 0

  constructor(readonly expected?: number) {
    super()
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null, data?: Buffer) => void,
  ) {
    this.bytes += chunk.length
    if (this.expected !== undefined && this.bytes > this.expected) {
      callback(new SizeMismatchError(`body is longer than the declared ${this.expected} bytes`))
    } else {
      callback(null, chunk)
    }
  }

  override _flush(callback: (error?: Error | null) => void) {
    if (this.expected !== undefined && this.bytes !== this.expected) {
      callback(new SizeMismatchError(`body is ${this.bytes} bytes, declared ${this.expected}`))
    } else {
      callback()
    }
  }
}

function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  return Buffer.from(String(chunk))
}

/** Regroups a stream in parts of exactly `partSize` bytes (the last one shorter); holds one part at most. */
export async function* readParts(source: AsyncIterable<unknown>, partSize: number): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = []
  let length = 0
  for await (const chunk of source) {
    let buffer = asBuffer(chunk)
    while (length + buffer.length >= partSize) {
      const take = partSize - length
      chunks.push(buffer.subarray(0, take))
      yield Buffer.concat(chunks, partSize)
      chunks = []
      length = 0
      buffer = buffer.subarray(take)
    }
    if (buffer.length > 0) {
      chunks.push(buffer)
      length += buffer.length
    }
  }
  if (length > 0) yield Buffer.concat(chunks, length)
}
