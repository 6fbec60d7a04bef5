/**
 * @module Incoming attachments (reference §4.5) → files the core downloads on demand, or readable text.
 * image, video, audio, file and sticker carry a URL: they become `RemoteFile`s whose ref encodes what
 * `openFile` needs to fetch them again. contact, location and share become a line of text for the operator.
 * Keyboards and types we do not know are left out (counted by the caller).
 */
import * as v from 'valibot'
import { type RemoteFileRef, toRemoteFileRef } from '../../bridge/ids.ts'
import type { FileStream, RemoteFile, RemoteFileKind } from '../../bridge/remote-event.ts'
import type { Attachment } from './schemas.ts'

/** What a file ref carries: the attachment type, its URL and (video/audio) its token. */
export interface FileRefData {
  type: 'image' | 'video' | 'audio' | 'file' | 'sticker'
  url?: string
  token?: string
}

export type OpenRef = (ref: RemoteFileRef, signal?: AbortSignal) => Promise<FileStream>

const optText = v.nullish(v.string())
const UrlPayload = v.object({ payload: v.object({ url: optText, token: optText }) })
const FilePart = v.object({ filename: optText, size: v.nullish(v.number()) })
const ContactPart = v.object({
  payload: v.object({
    vcf_info: optText,
    max_info: v.nullish(v.object({ first_name: optText, last_name: optText })),
  }),
})
const LocationPart = v.object({ latitude: v.number(), longitude: v.number() })
const SharePart = v.object({
  payload: v.nullish(v.object({ url: optText })),
  title: optText,
  description: optText,
})

const KINDS: Record<FileRefData['type'], RemoteFileKind> = {
  image: 'photo',
  video: 'video',
  audio: 'audio',
  file: 'document',
  sticker: 'sticker',
}

export function encodeFileRef(data: FileRefData): RemoteFileRef {
  return toRemoteFileRef(Buffer.from(JSON.stringify(data)).toString('base64url'))
}

const RefSchema = v.object({
  type: v.picklist(['image', 'video', 'audio', 'file', 'sticker']),
  url: v.optional(v.string()),
  token: v.optional(v.string()),
})

export function decodeFileRef(ref: RemoteFileRef): FileRefData | undefined {
  try {
    const parsed = v.safeParse(RefSchema, JSON.parse(Buffer.from(ref, 'base64url').toString('utf8')))
    return parsed.success ? parsed.output : undefined
  } catch {
    return undefined
  }
}

export interface ReadAttachments {
  files: RemoteFile[]
  /** Lines of text for contacts, locations and shares. */
  lines: string[]
  /** Attachments left out (keyboards, unknown types, unreadable shapes): counted, never an error. */
  skipped: string[]
}

export function readAttachments(
  attachments: readonly Attachment[] | null | undefined,
  open: OpenRef,
): ReadAttachments {
  const result: ReadAttachments = { files: [], lines: [], skipped: [] }
  for (const attachment of attachments ?? []) {
    const type = attachment.type
    if (type === 'image' || type === 'video' || type === 'audio' || type === 'file' || type === 'sticker') {
      const parsed = v.safeParse(UrlPayload, attachment)
      const url = parsed.success ? (parsed.output.payload.url ?? undefined) : undefined
      const token = parsed.success ? (parsed.output.payload.token ?? undefined) : undefined
      // A video without a URL can still be fetched through `GET /videos/{token}`.
      if (!url && !(type === 'video' && token)) {
        result.skipped.push(`${type}:shape`)
        continue
      }
      const ref = encodeFileRef({
        type,
        ...(url ? { url } : {}),
        ...(token && type !== 'image' ? { token } : {}),
      })
      const part = type === 'file' ? v.safeParse(FilePart, attachment) : undefined
      const name = part?.success ? (part.output.filename ?? undefined) : undefined
      const size = part?.success ? (part.output.size ?? undefined) : undefined
      const mimeType = name ? mimeOf(name) : undefined
      result.files.push({
        ref,
        kind: KINDS[type],
        ...(name ? { name } : {}),
        ...(mimeType ? { mimeType } : {}),
        ...(size !== undefined && size >= 0 ? { size } : {}),
        open: (signal) => open(ref, signal),
      })
      continue
    }
    const line = textLine(attachment)
    if (line) result.lines.push(line)
    else result.skipped.push(type)
  }
  return result
}

/** MAX sends no MIME type with a file (§4.5): the extension's, when it is a known one (no I/O). */
function mimeOf(name: string): string | undefined {
  const type = Bun.file(name).type.split(';')[0]
  return type && type !== 'application/octet-stream' ? type : undefined
}

function textLine(attachment: Attachment): string | undefined {
  switch (attachment.type) {
    case 'contact': {
      const parsed = v.safeParse(ContactPart, attachment)
      if (!parsed.success) return undefined
      const card = parseVcard(parsed.output.payload.vcf_info ?? '')
      const info = parsed.output.payload.max_info
      const name = card.name ?? ([info?.first_name, info?.last_name].filter(Boolean).join(' ') || undefined)
      const parts = [name, ...card.phones].filter(Boolean)
      return parts.length ? `Контакт: ${parts.join(', ')}` : undefined
    }
    case 'location': {
      const parsed = v.safeParse(LocationPart, attachment)
      if (!parsed.success) return undefined
      const { latitude: lat, longitude: lon } = parsed.output
      return `Геопозиция: ${lat}, ${lon} https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`
    }
    case 'share': {
      const parsed = v.safeParse(SharePart, attachment)
      if (!parsed.success) return undefined
      const { title, description } = parsed.output
      const parts = [title, description, parsed.output.payload?.url].filter((p): p is string =>
        Boolean(p?.trim()),
      )
      return parts.length ? `Ссылка: ${parts.join(' — ')}` : undefined
    }
    default:
      return undefined
  }
}

/** The name (FN) and phone numbers (TEL) of a vCard; folded lines are unfolded first (RFC 6350 §3.2). */
export function parseVcard(vcf: string): { name?: string; phones: string[] } {
  const lines = vcf.replace(/\r?\n[ \t]/g, '').split(/\r?\n/)
  let name: string | undefined
  const phones: string[] = []
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const key = line.slice(0, colon).split(';')[0]!.toUpperCase()
    const value = line.slice(colon + 1).trim()
    if (key === 'FN' && value) name = value.replace(/\\([,;\\])/g, '$1')
    else if (key === 'TEL' && value) phones.push(value.replace(/^tel:/i, ''))
  }
  return { ...(name ? { name } : {}), phones }
}
