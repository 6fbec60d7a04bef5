/**
 * @module Downloads of the local file store (embedded mode): `GET|HEAD /files/<key>?exp=…&sig=…`. Bitrix24
 * fetches relayed files here; without a valid, unexpired signature nothing is revealed, not even whether
 * the file exists.
 */

import { Readable } from 'node:stream'
import { Hono } from 'hono'
import { attachmentDisposition } from '../../storage/files/content-disposition.ts'
import type { LocalFileInfo, LocalFileStore } from '../../storage/files/local-file-store.ts'
import { assertObjectKey } from '../../storage/files/object-key.ts'

const ROUTE_PREFIX = '/files/'
// Personal data: no shared cache may keep a copy, and a browser must not guess a renderable type.
const PRIVATE = { 'Cache-Control': 'private, no-store', 'X-Content-Type-Options': 'nosniff' }

/** The key from the raw (still percent-encoded) path, or undefined when it is not a valid key. */
function keyFromPath(pathname: string): string | undefined {
  const start = pathname.indexOf(ROUTE_PREFIX)
  if (start < 0) return undefined
  try {
    const key = pathname
      .slice(start + ROUTE_PREFIX.length)
      .split('/')
      .map(decodeURIComponent)
      .join('/')
    assertObjectKey(key)
    return key
  } catch {
    return undefined
  }
}

function fileHeaders(info: LocalFileInfo): Record<string, string> {
  return {
    ...PRIVATE,
    'Content-Type': info.contentType ?? 'application/octet-stream',
    'Content-Length': String(info.size),
    'Content-Disposition': attachmentDisposition(info.fileName),
    'Last-Modified': info.lastModified.toUTCString(),
  }
}

export function createFileRoutes(store: LocalFileStore): Hono {
  const app = new Hono()

  // Hono routes HEAD to GET handlers and drops the body; answering HEAD here avoids opening the file at all.
  app.get('/files/*', async (c) => {
    const key = keyFromPath(new URL(c.req.url).pathname)
    const link = key === undefined ? 'invalid' : store.verifyLink(key, c.req.query('exp'), c.req.query('sig'))
    if (key === undefined || link !== 'ok') {
      return c.json({ error: link === 'expired' ? 'link_expired' : 'invalid_link' }, 403, PRIVATE)
    }
    if (c.req.method === 'HEAD') {
      const info = await store.describe(key)
      if (!info) return c.json({ error: 'not_found' }, 404, PRIVATE)
      return new Response(null, { status: 200, headers: fileHeaders(info) })
    }
    const file = await store.openFile(key)
    if (!file) return c.json({ error: 'not_found' }, 404, PRIVATE)
    const body = Readable.toWeb(file.body) as unknown as ReadableStream<Uint8Array>
    return new Response(body, { status: 200, headers: fileHeaders(file.info) })
  })

  return app
}
