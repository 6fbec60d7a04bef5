/**
 * @module Attachments both ways. Bots send `AttachmentRequest`s (reference §5.1) that name uploaded media by token;
 * customers send media that MAX shows to the bot as `Attachment`s with a downloadable `payload.url` (§4.5). The
 * emulator serves every such URL itself (`/_files/…`, plain GET, no token — the community reports of §4.5).
 */
import * as v from 'valibot'
import { attachmentNotReady, badPayload } from './json.ts'
import type { CustomerFile, UserSendInput } from './testkit.ts'
import type { Bot, Person, StoredAttachment, StoredFile } from './types.ts'
import { userJson, type World } from './world.ts'

const Token = v.pipe(v.string(), v.minLength(1))
const ButtonRows = v.array(
  v.array(v.looseObject({ type: v.string(), text: v.pipe(v.string(), v.maxLength(128)) })),
)

/** `AttachmentRequest` variants of reference §5.1 (with the shapes of §5.3 step 3). */
export const AttachmentRequest = v.variant('type', [
  v.object({
    type: v.literal('image'),
    payload: v.object({
      url: v.optional(v.string()),
      token: v.optional(Token),
      photos: v.optional(v.record(v.string(), v.object({ token: Token }))),
    }),
  }),
  v.object({ type: v.picklist(['video', 'audio', 'file']), payload: v.object({ token: Token }) }),
  v.object({ type: v.literal('sticker'), payload: v.object({ code: v.string() }) }),
  v.object({
    type: v.literal('contact'),
    payload: v.object({
      name: v.optional(v.nullable(v.string())),
      contact_id: v.optional(v.nullable(v.number())),
      vcf_info: v.optional(v.nullable(v.string())),
      vcf_phone: v.optional(v.nullable(v.string())),
    }),
  }),
  v.object({ type: v.literal('location'), latitude: v.number(), longitude: v.number() }),
  v.object({
    type: v.literal('share'),
    payload: v.object({ url: v.optional(v.nullable(v.string())), token: v.optional(v.nullable(v.string())) }),
  }),
  v.object({ type: v.literal('inline_keyboard'), payload: v.object({ buttons: ButtonRows }) }),
])
export type AttachmentRequest = v.InferOutput<typeof AttachmentRequest>

// Reference §5.1 ⚠: audio, file, sticker and contact must be the only media attachment (a keyboard may be added).
const ALONE = new Set(['audio', 'file', 'sticker', 'contact'])

const PNG_1X1 = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='),
  (c) => c.charCodeAt(0),
)

/**
 * Turns a bot's attachment requests into stored attachments, or throws the documented error: 400
 * `attachment.not.ready` while uploaded media is "processing" (§5.4), 400 for unknown tokens and for a lone-media
 * type mixed with other media. Nothing is consumed unless every attachment passes.
 */
export function fromBotRequests(world: World, requests: AttachmentRequest[]): StoredAttachment[] {
  const media = requests.filter((r) => r.type !== 'inline_keyboard')
  if (media.length > 1 && media.some((r) => ALONE.has(r.type))) {
    throw badPayload(
      'Audio, file, sticker and contact attachments must be the only media attachment of a message',
    )
  }
  const tokens = requests.flatMap((r) => requestTokens(r))
  const uploaded = tokens.map((t) => {
    const m = world.media.get(t.token)
    if (!m) throw badPayload(`Invalid attachment token: ${t.token}`)
    if (m.type !== t.type) throw badPayload(`Token ${t.token} is a ${m.type}, not a ${t.type}`)
    return m
  })
  if (uploaded.some((m) => m.notReadyLeft > 0) || (uploaded.length > 0 && world.faults.notReadySends > 0)) {
    for (const m of uploaded) if (m.notReadyLeft > 0) m.notReadyLeft--
    if (uploaded.length > 0 && world.faults.notReadySends > 0) world.faults.notReadySends--
    world.stats.add('attachment_not_ready')
    throw attachmentNotReady()
  }
  return requests.map((r) => fromBotRequest(world, r))
}

function requestTokens(r: AttachmentRequest): { token: string; type: string }[] {
  if (r.type === 'image') {
    if (r.payload.token) return [{ token: r.payload.token, type: 'image' }]
    const first = Object.values(r.payload.photos ?? {})[0]
    return first ? [{ token: first.token, type: 'image' }] : []
  }
  if (r.type === 'video' || r.type === 'audio' || r.type === 'file')
    return [{ token: r.payload.token, type: r.type }]
  return []
}

function fromBotRequest(world: World, r: AttachmentRequest): StoredAttachment {
  const [ref] = requestTokens(r)
  const m = ref ? world.media.get(ref.token) : undefined
  switch (r.type) {
    case 'image': {
      if (m)
        return {
          type: 'image',
          request: r,
          token: m.token,
          file: m.file,
          shown: mediaShown(world, 'image', m),
        }
      if (!r.payload.url) throw badPayload('An image attachment needs a token, photos or a url')
      const shown = {
        type: 'image',
        payload: { photo_id: world.newPhotoId(), token: world.newToken(), url: r.payload.url },
      }
      return { type: 'image', request: r, shown }
    }
    case 'video':
    case 'audio':
    case 'file':
      return {
        type: r.type,
        request: r,
        token: m!.token,
        file: m!.file,
        shown: mediaShown(world, r.type, m!),
      }
    case 'sticker':
      return { type: 'sticker', request: r, shown: stickerShown(world, r.payload.code) }
    case 'contact': {
      const p = r.payload
      const vcf = p.vcf_info ?? (p.vcf_phone ? vcard(p.name ?? '', p.vcf_phone) : null)
      const known = p.contact_id ? world.people.get(p.contact_id) : undefined
      const shown = {
        type: 'contact',
        payload: { vcf_info: vcf, hash: null, max_info: known ? userJson(known) : null },
      }
      return { type: 'contact', request: r, shown }
    }
    case 'location':
      return {
        type: 'location',
        request: r,
        shown: { type: 'location', latitude: r.latitude, longitude: r.longitude },
      }
    case 'share':
      return { type: 'share', request: r, shown: shareShown(r.payload.url ?? null, null, null) }
    case 'inline_keyboard':
      return { type: 'inline_keyboard', request: r, shown: { type: 'inline_keyboard', payload: r.payload } }
  }
}

/** How uploaded or customer media looks in `message.body.attachments` (reference §4.5). */
function mediaShown(
  _world: World,
  type: 'image' | 'video' | 'audio' | 'file',
  m: { token: string; file: StoredFile; photoId: number | null },
): Record<string, unknown> {
  switch (type) {
    case 'image':
      return { type, payload: { photo_id: m.photoId, token: m.token, url: m.file.url } }
    case 'video':
      return {
        type,
        payload: { url: m.file.url, token: m.token },
        thumbnail: null,
        width: null,
        height: null,
        duration: null,
      }
    case 'audio':
      return { type, payload: { url: m.file.url, token: m.token }, transcription: null }
    case 'file':
      return {
        type,
        payload: { url: m.file.url, token: m.token },
        filename: m.file.name,
        size: m.file.bytes.byteLength,
      }
  }
}

function stickerShown(world: World, code: string, width = 128, height = 128): Record<string, unknown> {
  const file = world.storeFile(`sticker-${code}.png`, 'image/png', PNG_1X1)
  return { type: 'sticker', payload: { url: file.url, code }, width, height }
}

function shareShown(url: string | null, title: string | null, description: string | null) {
  return { type: 'share', payload: { url, token: null }, title, description, image_url: null }
}

function vcard(name: string, phone: string): string {
  return `BEGIN:VCARD\r\nVERSION:3.0\r\nFN:${name}\r\nTEL;TYPE=cell:${phone}\r\nEND:VCARD\r\n`
}

/** Registers a stored file as media with a token (customer media can be re-sent by the bot by token). */
export function registerMedia(
  world: World,
  type: 'image' | 'video' | 'audio' | 'file',
  file: StoredFile,
  notReady: number,
) {
  const media = {
    token: world.newToken(),
    type,
    file,
    photoId: type === 'image' ? world.newPhotoId() : null,
    notReadyLeft: notReady,
  }
  world.media.set(media.token, media)
  return media
}

function fileType(f: CustomerFile): 'image' | 'video' | 'audio' | 'file' {
  if (f.type) return f.type
  const top = f.mime.split('/')[0]
  return top === 'image' || top === 'video' || top === 'audio' ? top : 'file'
}

/** What a customer's message carries, as the bot will see it. */
export function fromCustomer(
  world: World,
  bot: Bot,
  sender: Person,
  input: UserSendInput,
): StoredAttachment[] {
  const out: StoredAttachment[] = []
  if (input.file) {
    const type = fileType(input.file)
    const file = world.storeFile(input.file.name, input.file.mime, input.file.bytes)
    const m = registerMedia(world, type, file, 0)
    out.push({ type, token: m.token, file, shown: mediaShown(world, type, m) })
  }
  if (input.sticker) {
    const code = input.sticker.code ?? world.newToken().slice(0, 12)
    out.push({ type: 'sticker', shown: stickerShown(world, code, input.sticker.width, input.sticker.height) })
  }
  if (input.contact) {
    const vcf = vcard(input.contact.name, input.contact.phone)
    // The real `hash` algorithm is not documented (reference §13.4); this one only has the right shape.
    const hash = new Bun.CryptoHasher('sha256', bot.token).update(vcf).digest('hex')
    const own = input.contact.ownAccount !== false
    out.push({
      type: 'contact',
      shown: {
        type: 'contact',
        payload: { vcf_info: vcf, hash: own ? hash : null, max_info: own ? userJson(sender) : null },
      },
    })
  }
  if (input.location) {
    const { latitude, longitude } = input.location
    out.push({ type: 'location', shown: { type: 'location', latitude, longitude } })
  }
  if (input.share) {
    out.push({
      type: 'share',
      shown: shareShown(input.share.url, input.share.title ?? null, input.share.description ?? null),
    })
  }
  if (input.attachment !== undefined) {
    const raw = input.attachment as Record<string, unknown>
    out.push({ type: String(raw?.type ?? 'unknown'), shown: raw })
  }
  return out
}

/** Identity of an attachment for the duplicate heuristic: its media token, else its request as sent. */
export function attachmentKey(a: StoredAttachment): string {
  return a.token ?? JSON.stringify(a.request ?? a.shown)
}
