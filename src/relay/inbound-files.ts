/**
 * @module Incoming files → object storage, one stream at a time (never a whole body in memory). A file the
 * messenger no longer has is left out; any other failure removes what this message already wrote, so the
 * event can be retried from a clean slate.
 */

import type { FileStore } from '../../storage/files/file-store.ts'
import { PermanentSendError } from '../bridge/errors.ts'
import type { RemoteFile } from '../bridge/remote-event.ts'
import type { Logger } from '../log/logger.ts'
import { inboundObjectKey } from './keys.ts'

/** A stored file as a `to_portal` message references it. */
export interface StoredFileRef {
  objectKey: string
  name: string
  mime?: string
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'application/pdf': 'pdf',
}

/** A name for a file the messenger sent without one (photos, voice notes): `photo.jpg`. */
export function fallbackName(kind: RemoteFile['kind'], mime: string | undefined): string {
  const extension = mime ? EXTENSIONS[mime.toLowerCase()] : undefined
  return extension ? `${kind}.${extension}` : kind
}

/** Names the portal accepts: 1–255 characters, no path. */
function safeName(name: string | undefined): string | undefined {
  const base = name?.split(/[\\/]/).pop()?.trim()
  return base ? base.slice(0, 255) : undefined
}

export interface StoreFilesInput {
  files: FileStore
  portalId: string
  accountId: string
  remoteFiles: readonly RemoteFile[]
  log?: Logger
  newId?: () => string
  signal?: AbortSignal
}

/** Streams every file into the store. @returns their refs, in the event's order */
export async function storeInboundFiles(input: StoreFilesInput): Promise<StoredFileRef[]> {
  const stored: StoredFileRef[] = []
  try {
    for (const file of input.remoteFiles) {
      let opened: Awaited<ReturnType<RemoteFile['open']>>
      try {
        opened = await file.open(input.signal)
      } catch (error) {
        if (!(error instanceof PermanentSendError)) throw error
        // Gone at the messenger: retrying cannot bring it back; the rest of the message still goes.
        input.log?.warn(
          { accountId: input.accountId, code: error.code },
          'incoming file unavailable, left out',
        )
        continue
      }
      const mime = opened.mimeType ?? file.mimeType
      const name = safeName(file.name) ?? fallbackName(file.kind, mime)
      const objectKey = inboundObjectKey(input.portalId, input.accountId, input.newId?.())
      // Recorded before the upload so a half-written object is removed too.
      stored.push({ objectKey, name, ...(mime ? { mime } : {}) })
      await input.files.put(objectKey, opened.stream, {
        contentType: mime,
        fileName: name,
        size: opened.size ?? file.size,
      })
    }
    return stored
  } catch (error) {
    await removeObjects(input.files, stored, input.log)
    throw error
  }
}

/** Best effort: an object left behind is removed by the TTL sweep of files nobody fetched. */
export async function removeObjects(files: FileStore, refs: readonly StoredFileRef[], log?: Logger) {
  for (const ref of refs) {
    try {
      await files.delete(ref.objectKey)
    } catch (error) {
      log?.warn({ err: error, objectKey: ref.objectKey }, 'could not remove an incoming file')
    }
  }
}
