/**
 * @module Files. (1) The portal's fetcher: every `files[].url` and `user.picture.url` of an incoming message
 * is downloaded by the portal itself (§5.8, pitfalls 4–5): redirects followed, TLS not verified, User-Agent
 * `Bitrix Connector Client`, success only on HTTP 200, failures recorded and the file silently dropped. (2)
 * Operator attachments: stored by the emulator and served at short links (`/~xxxx`, images with a
 * `#img.<ext>` fragment) that redirect to a signed `/pub/im.file.php` URL, like `CIMDisk::GetFileLink`
 * (§6.4).
 */
import type { Emulator } from './context.ts'
import { json } from './http-util.ts'
import { type Portal, randomToken } from './state.ts'
import type { FileRecord, OperatorFile } from './types.ts'

const MIME_EXT: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/bmp': 'bmp',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'video/mp4': 'mp4',
}

function nameFromDisposition(header: string | null): string | null {
  if (!header) return null
  const star = /filename\*\s*=\s*[^']*'[^']*'([^;]+)/i.exec(header)
  if (star?.[1]) return decodeURIComponent(star[1].trim())
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(header)
  return plain?.[1]?.trim() ?? null
}

function nameFromUrl(url: string): string | null {
  try {
    const last = new URL(url).pathname.split('/').pop() ?? ''
    return last ? decodeURIComponent(last) : null
  } catch {
    return null
  }
}

export interface DownloadRequest {
  url: string
  name?: string
  headers?: { name: string; value: string }[]
  purpose: 'message' | 'avatar'
  /** Given the body of a downloaded file (the emulator keeps only digests otherwise). */
  onBytes?: (bytes: Uint8Array, record: FileRecord) => void
}

/** Downloads like `Library::downloadFile` (§5.8) and records the outcome on the portal and in the stats. */
export async function downloadFile(emu: Emulator, portal: Portal, req: DownloadRequest): Promise<FileRecord> {
  const record: FileRecord = {
    id: portal.next('file'),
    purpose: req.purpose,
    url: req.url,
    finalUrl: null,
    name: null,
    size: 0,
    sha256: null,
    mime: null,
    status: 'failed',
    httpStatus: null,
    redirects: 0,
    error: null,
  }
  portal.files.push(record)
  const fail = (reason: string) => {
    record.error = reason
    emu.stats.fileFailed({
      memberId: portal.memberId,
      url: req.url,
      reason,
      status: record.httpStatus,
      at: Date.now(),
    })
    return record
  }
  const headers: Record<string, string> = {}
  for (const h of req.headers ?? []) if (h?.name) headers[h.name] = String(h.value ?? '')
  headers['user-agent'] = 'Bitrix Connector Client'
  let current = req.url
  const deadline = AbortSignal.timeout(emu.settings.fileTimeoutMs)
  for (let hop = 0; ; hop++) {
    let target: URL
    try {
      target = new URL(current)
    } catch {
      return fail('invalid URL')
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:')
      return fail(`unsupported scheme ${target.protocol}`)
    let res: Response
    try {
      // Pitfall 4: self-signed TLS is tolerated (SSL verification disabled).
      res = await fetch(target, {
        headers,
        redirect: 'manual',
        signal: deadline,
        tls: { rejectUnauthorized: false },
      })
    } catch (e) {
      return fail(e instanceof Error ? `${e.name}: ${e.message}` : String(e))
    }
    record.httpStatus = res.status
    const location = res.headers.get('location')
    if (res.status >= 300 && res.status < 400 && location) {
      await res.arrayBuffer().catch(() => undefined)
      if (hop >= emu.settings.maxRedirects) return fail('too many redirects')
      record.redirects++
      current = new URL(location, target).toString()
      continue
    }
    if (res.status !== 200) {
      await res.arrayBuffer().catch(() => undefined)
      return fail(`HTTP ${res.status}`)
    }
    let bytes: Uint8Array
    try {
      bytes = new Uint8Array(await res.arrayBuffer())
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e))
    }
    const mime = (res.headers.get('content-type') ?? '').split(';')[0]!.trim() || null
    // §5.8: name from `name`, else the URL path, else Content-Disposition; extension guessed from MIME.
    let name =
      req.name ||
      nameFromUrl(current) ||
      nameFromDisposition(res.headers.get('content-disposition')) ||
      'file'
    if (!/\.[A-Za-z0-9]{1,8}$/.test(name) && mime && MIME_EXT[mime]) name = `${name}.${MIME_EXT[mime]}`
    record.finalUrl = current
    record.name = name
    record.mime = mime
    record.size = bytes.length
    record.sha256 = new Bun.CryptoHasher('sha256').update(bytes).digest('hex')
    record.status = 'downloaded'
    emu.stats.filesDownloaded++
    req.onBytes?.(bytes, record)
    return record
  }
}

async function signOf(portal: Portal, id: number): Promise<string> {
  const data = new TextEncoder().encode(`${portal.memberId}:${id}`)
  const digest = await crypto.subtle.digest('SHA-256', data)
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
    .slice(0, 32)
}

export interface OperatorFileInput {
  name: string
  mime?: string
  /** Content as base64; or `text` for plain content; or `size` bytes of filler. */
  base64?: string
  text?: string
  size?: number
  width?: number
  height?: number
}

export async function storeOperatorFile(portal: Portal, input: OperatorFileInput): Promise<OperatorFile> {
  const bytes = input.base64
    ? new Uint8Array(Buffer.from(input.base64, 'base64'))
    : input.text !== undefined
      ? new TextEncoder().encode(input.text)
      : new Uint8Array(input.size ?? 16).fill(0x2a)
  return storeDiskFile(portal, {
    name: input.name,
    mime: input.mime ?? 'application/octet-stream',
    bytes,
    width: input.width ?? null,
    height: input.height ?? null,
  })
}

/**
 * A file on the portal's disk, served at a short link: an operator's attachment, or a file of an incoming
 * message uploaded to the chat (`CIMDisk::UploadFileFromMain`, source of §5.8).
 */
export async function storeDiskFile(
  portal: Portal,
  input: Pick<OperatorFile, 'name' | 'mime' | 'bytes' | 'width' | 'height'>,
): Promise<OperatorFile> {
  const id = portal.next('file')
  const file: OperatorFile = { id, ...input, sign: await signOf(portal, id), short: randomToken(5) }
  portal.operatorFiles.set(id, file)
  return file
}

function formatSize(size: number): string {
  // Shape of `sizef` in §6.4 ("179.1 KB").
  const units = ['B', 'KB', 'MB', 'GB']
  let value = size
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${size} B` : `${value.toFixed(1)} ${units[unit]}`
}

/** §6.4 `message.files[]` entry: `name, type, mime, link, size, sizef` (+ `width, height` for images). */
export function eventFileEntry(portal: Portal, file: OperatorFile): Record<string, string> {
  const type = file.mime.startsWith('image/')
    ? 'image'
    : file.mime.startsWith('video/')
      ? 'video'
      : file.mime.startsWith('audio/')
        ? 'audio'
        : 'file'
  const ext = file.name.includes('.')
    ? file.name.split('.').pop()!.toLowerCase()
    : (MIME_EXT[file.mime] ?? 'bin')
  const entry: Record<string, string> = {
    name: file.name,
    type,
    mime: file.mime,
    link: `${portal.url}/~${file.short}${type === 'image' ? `#img.${ext}` : ''}`,
  }
  if (type === 'image' && file.width !== null && file.height !== null) {
    entry.width = String(file.width)
    entry.height = String(file.height)
  }
  entry.size = String(file.bytes.length)
  entry.sizef = formatSize(file.bytes.length)
  return entry
}

/** Serves `/~<short>` (302 → signed URL) and `/pub/im.file.php?FILE_ID=&SIGN=` without auth (§6.4). */
export function serveOperatorFile(portal: Portal, url: URL): Response | null {
  if (url.pathname.startsWith('/~')) {
    const short = url.pathname.slice(2)
    const file = [...portal.operatorFiles.values()].find((f) => f.short === short)
    if (!file) return new Response('Not found', { status: 404 })
    const target = `${portal.url}/pub/im.file.php?FILE_ID=${file.id}&SIGN=${file.sign}`
    return new Response(null, { status: 302, headers: { location: target } })
  }
  if (url.pathname === '/pub/im.file.php') {
    const file = portal.operatorFiles.get(Number(url.searchParams.get('FILE_ID')))
    if (!file || file.sign !== url.searchParams.get('SIGN')) return json(404, { error: 'FILE_NOT_FOUND' })
    return new Response(file.bytes, {
      status: 200,
      headers: {
        'content-type': file.mime,
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`,
      },
    })
  }
  return null
}
