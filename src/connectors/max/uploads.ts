/**
 * @module Sending a file is three steps (reference §5.3): `POST /uploads?type=` gives an upload URL (and,
 * for video and audio, the token); the body is posted there as multipart field `data`, streamed from the
 * source without holding it whole; the token (or the image's `photos`) is then attached to a message.
 * The upload host is not the API host, so the bot token never goes there.
 */
import type { OutgoingFile } from '../../bridge/client.ts'
import { PermanentSendError } from '../../bridge/errors.ts'
import { type MaxApi, MaxApiError, parseAnswer } from './api.ts'
import { UploadAnswer, UploadSlot } from './schemas.ts'

export type UploadType = 'image' | 'video' | 'audio' | 'file'

/** What goes into `attachments` of `POST /messages`. */
export type UploadedAttachment =
  | { type: 'image'; payload: { photos: Record<string, { token: string }> } | { token: string } }
  | { type: 'video' | 'audio' | 'file'; payload: { token: string } }

const MB = 1024 * 1024
/** Formats and sizes MAX takes as media (§5.3); anything else goes as a plain file (≤ 4 GB). */
const IMAGE = /^image\/(jpe?g|png|gif|tiff|bmp|heic)$/i
const VIDEO = /^video\/(mp4|quicktime|x-matroska|webm)$/i
export const MAX_FILE_SIZE = 4 * 1024 * MB

export function uploadTypeFor(file: Pick<OutgoingFile, 'mimeType' | 'size'>): UploadType {
  const size = file.size ?? Number.POSITIVE_INFINITY
  if (IMAGE.test(file.mimeType) && size <= 50 * MB) return 'image'
  if (VIDEO.test(file.mimeType) && size <= 250 * MB) return 'video'
  if (/^audio\//i.test(file.mimeType) && size <= 256 * MB) return 'audio'
  return 'file'
}

export async function uploadFile(
  api: MaxApi,
  file: OutgoingFile,
  signal?: AbortSignal,
): Promise<UploadedAttachment> {
  if (file.size !== undefined && file.size > MAX_FILE_SIZE) {
    throw new PermanentSendError('file.too.large', `${file.name}: larger than MAX's 4 GB`)
  }
  const type = uploadTypeFor(file)
  const slot = await api.call('POST', '/uploads', UploadSlot, { query: { type }, signal })
  const source = await file.open(signal)
  const boundary = `olchat-${crypto.randomUUID()}`
  const res = await api.upload(
    slot.url,
    {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: multipartBody(boundary, file.name, file.mimeType, source),
      signal,
      // Streamed request bodies need half-duplex under the fetch spec.
      duplex: 'half',
    } as RequestInit,
    // Two minutes plus 2 s per MB (≥ 512 KB/s); half an hour when the size is unknown.
    file.size === undefined ? 30 * 60_000 : 120_000 + Math.ceil(file.size / 512),
  )
  const text = await res.text()
  if (!res.ok) {
    throw new MaxApiError(res.status, `upload.http.${res.status}`, `upload of ${type} refused`)
  }
  if (type === 'video' || type === 'audio') {
    // The answer is XML `<retval>1</retval>` (§5.3); the token came with the slot.
    if (!slot.token) throw new MaxApiError(200, 'unexpected.response', `POST /uploads?type=${type}: no token`)
    return { type, payload: { token: slot.token } }
  }
  const answer = parseAnswer(UploadAnswer, text, `upload ${type}`)
  if (type === 'image' && answer.photos && Object.keys(answer.photos).length > 0) {
    return { type, payload: { photos: answer.photos } }
  }
  const token = answer.token ?? slot.token
  if (!token) throw new MaxApiError(200, 'unexpected.response', `upload ${type}: no token`)
  return { type, payload: { token } } as UploadedAttachment
}

/** `filename` as browsers write it: UTF-8, with quote and line breaks percent-encoded (RFC 7578 §4.2). */
function quotedName(name: string): string {
  return name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

export function multipartBody(
  boundary: string,
  name: string,
  mime: string,
  source: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  const head = encoder.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="${quotedName(name)}"\r\n` +
      `Content-Type: ${mime.replace(/[\r\n]/g, '') || 'application/octet-stream'}\r\n\r\n`,
  )
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`)
  const reader = source.getReader()
  let stage: 'head' | 'body' | 'done' = 'head'
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (stage === 'head') {
        stage = 'body'
        controller.enqueue(head)
        return
      }
      if (stage === 'done') return
      const { value, done } = await reader.read()
      if (done) {
        stage = 'done'
        controller.enqueue(tail)
        controller.close()
        return
      }
      controller.enqueue(value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
}
