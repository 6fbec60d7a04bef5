/**
 * @module Small profile photos in object storage: the contact sync's avatars (I2) and the account's own
 * photo (I1) are streamed into an object with a size cap, and a half-written object never stays behind.
 */
import { createHash } from 'node:crypto'
import type { FileStore } from '../../storage/files/file-store.ts'
import type { FileStream } from '../bridge/remote-event.ts'

/** Avatars are the small profile photo (Telegram: 160 px JPEG, a few KiB); anything larger is not kept. */
export const MAX_AVATAR_BYTES = 256 * 1024

/** The name of a photo's object: one per (person, messenger photo ref), so a changed photo gets a new object. */
export function avatarObjectId(remoteId: string, ref: string): string {
  return createHash('sha256').update(`${remoteId}\n${ref}`).digest('hex').slice(0, 32)
}

export class AvatarTooLargeError extends Error {
  override name = 'AvatarTooLargeError'
}

/** Passes bytes through and fails the stream once more than `max` went by. */
function capped(stream: ReadableStream<Uint8Array>, max: number): ReadableStream<Uint8Array> {
  let seen = 0
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength
        if (seen > max) controller.error(new AvatarTooLargeError(`avatar over ${max} bytes`))
        else controller.enqueue(chunk)
      },
    }),
  )
}

/**
 * Stores an opened avatar under `key`. @throws AvatarTooLargeError over `max` bytes, or what the download
 * or the store throws — after deleting whatever part of the object was written.
 */
export async function storeAvatar(
  files: FileStore,
  key: string,
  opened: FileStream,
  max = MAX_AVATAR_BYTES,
): Promise<void> {
  try {
    if (opened.size !== undefined && opened.size > max) {
      await opened.stream.cancel().catch(() => {})
      throw new AvatarTooLargeError(`avatar of ${opened.size} bytes`)
    }
    await files.put(key, capped(opened.stream, max), {
      contentType: opened.mimeType ?? 'image/jpeg',
      ...(opened.size === undefined ? {} : { size: opened.size }),
    })
  } catch (error) {
    await files.delete(key).catch(() => false)
    throw error
  }
}
