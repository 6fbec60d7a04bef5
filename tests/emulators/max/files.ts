/**
 * @module The upload hosts and the media CDN of the emulator (reference §5.3). `POST /uploads?type=` hands out
 * `<base>/_upload/<id>`; that URL takes exactly one file, either as `multipart/form-data` with the field `data`
 * in one request, or "resumable" — any other content type, in chunks with `Content-Range: bytes a-b/total` (a body
 * without the header is the whole file). It answers like MAX: image → `{"photos":{"<key>":{"token"}}}`, file →
 * `{"token"}`, video/audio → XML `<retval>1</retval>` (their token came with the URL). A GET on it reports progress.
 * Stored files are served at `<base>/_files/<id>/<name>` to a plain GET (reference §4.5 "Downloading").
 */
import { registerMedia } from './attachments.ts'
import { json } from './json.ts'
import type { Upload } from './types.ts'
import type { World } from './world.ts'

// Reference §5.3 size limits (the 4 GB file limit is left to the server's body limit).
const MAX_BYTES: Record<Upload['type'], number> = {
  image: 50 * 1024 * 1024,
  video: 250 * 1024 * 1024,
  audio: 256 * 1024 * 1024,
  file: Number.POSITIVE_INFINITY,
}

const uploadError = (status: number, message: string) => json(status, { code: 'upload.error', message })

export function createUpload(world: World, bot: Upload['bot'], type: Upload['type']) {
  const upload: Upload = {
    id: crypto.randomUUID(),
    type,
    bot,
    // Reference §5.3 step 1: for video/audio the token comes back with the URL.
    token: type === 'video' || type === 'audio' ? world.newToken() : null,
    file: null,
    chunks: new Map(),
    total: null,
  }
  world.uploads.set(upload.id, upload)
  const url = `${world.baseUrl}/_upload/${upload.id}`
  return upload.token ? { url, token: upload.token } : { url }
}

export async function handleUpload(world: World, req: Request, id: string): Promise<Response> {
  const upload = world.uploads.get(id)
  if (!upload) return uploadError(404, 'Unknown upload URL')
  if (req.method === 'GET') return json(200, progress(upload))
  if (req.method !== 'POST' && req.method !== 'PUT') return uploadError(405, 'Use POST')
  if (upload.file) return uploadError(400, 'This upload URL already took its file')
  const type = req.headers.get('content-type') ?? ''
  if (type.toLowerCase().startsWith('multipart/form-data')) {
    const form = await req.formData().catch(() => null)
    if (!form) return uploadError(400, 'Malformed multipart body')
    const data = form.get('data')
    if (!data || typeof data === 'string')
      return uploadError(400, 'The multipart field "data" with a file is missing')
    const bytes = new Uint8Array(await data.arrayBuffer())
    return finish(world, upload, data.name || 'file', data.type || 'application/octet-stream', bytes)
  }
  return resumable(world, upload, req, type)
}

async function resumable(world: World, upload: Upload, req: Request, type: string): Promise<Response> {
  const bytes = new Uint8Array(await req.arrayBuffer())
  const range = req.headers.get('content-range')
  const name = fileName(req.headers.get('content-disposition')) ?? 'file'
  const mime = type.split(';')[0]!.trim() || 'application/octet-stream'
  if (range === null) return finish(world, upload, name, mime, bytes)
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range.trim())
  if (!m) return uploadError(400, 'Content-Range must be "bytes a-b/total"')
  const [from, to, total] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (to < from || to >= total || to - from + 1 !== bytes.byteLength || (upload.total ?? total) !== total) {
    return uploadError(416, 'REQUESTED_RANGE_NOT_SATISFIABLE')
  }
  upload.total = total
  upload.chunks.set(from, bytes)
  const received = [...upload.chunks.values()].reduce((n, c) => n + c.byteLength, 0)
  if (received < total) return new Response(`${from}-${to}/${total}`, { status: 201 })
  const whole = new Uint8Array(total)
  for (const [at, chunk] of upload.chunks) whole.set(chunk, at)
  upload.chunks.clear()
  return finish(world, upload, name, mime, whole)
}

function finish(world: World, upload: Upload, name: string, mime: string, bytes: Uint8Array): Response {
  if (bytes.byteLength === 0) return uploadError(400, 'Empty file')
  if (bytes.byteLength > MAX_BYTES[upload.type]) return uploadError(400, `The ${upload.type} is too large`)
  upload.file = world.storeFile(name, mime, bytes)
  const media = registerMedia(world, upload.type, upload.file, world.settings.notReadyAttempts)
  if (upload.token) {
    world.media.delete(media.token)
    media.token = upload.token
    world.media.set(media.token, media)
  }
  world.stats.add('uploads')
  if (upload.type === 'image') {
    return json(200, { photos: { [world.newToken().slice(0, 16)]: { token: media.token } } })
  }
  if (upload.type === 'file') return json(200, { token: media.token })
  return new Response('<retval>1</retval>', { headers: { 'content-type': 'application/xml' } })
}

function progress(upload: Upload) {
  if (upload.file) return { status: 'complete', size: upload.file.bytes.byteLength }
  const received = [...upload.chunks.values()].reduce((n, c) => n + c.byteLength, 0)
  return { status: received > 0 ? 'in_progress' : 'waiting', size: upload.total, received }
}

function fileName(disposition: string | null): string | undefined {
  if (!disposition) return undefined
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition)
  if (star) return decodeURIComponent(star[1]!)
  return /filename="?([^";]+)"?/i.exec(disposition)?.[1]
}

const AVATAR = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='),
  (c) => c.charCodeAt(0),
)

/** `GET /_files/<id>/<name>` and `GET /_files/avatar/<userId>`. */
export function serveFile(world: World, path: string): Response {
  const [, , id] = path.split('/')
  if (id === 'avatar') return new Response(AVATAR, { headers: { 'content-type': 'image/png' } })
  const file = id ? world.files.get(id) : undefined
  if (!file) return json(404, { code: 'not.found', message: 'No such file' })
  world.stats.add('downloads')
  return new Response(file.bytes, {
    headers: {
      'content-type': file.mime,
      'content-length': String(file.bytes.byteLength),
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`,
    },
  })
}
