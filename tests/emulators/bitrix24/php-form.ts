/**
 * @module PHP-compatible form encoding for the portal emulator. `httpBuildQuery` behaves like PHP's
 * `http_build_query` (how the portal and its queue server encode events and app-page POSTs, §6.2, §2.2);
 * `parsePhpQuery` behaves like PHP's `parse_str` (how the portal reads form/query REST parameters and `batch`
 * command strings, §4.2, §4.5). Written from the PHP semantics, independent of the `qs` package Olchat
 * decodes with, so the two sides cannot share a bug.
 */

export interface BuildOptions {
  /**
   * What `false` becomes. §6.2 (inferred) and the emulator brief say empty; PHP's own `http_build_query`
   * writes `0`. Default: empty, as documented for events.
   */
  falseAs?: '' | '0'
}

const encoder = new TextEncoder()

/** PHP `urlencode`: keeps `[A-Za-z0-9_.-]`, space → `+`, every other UTF-8 byte → `%XX` (upper case). */
export function phpUrlencode(text: string): string {
  let out = ''
  for (const byte of encoder.encode(text)) {
    const keep =
      (byte >= 0x30 && byte <= 0x39) ||
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      byte === 0x2d ||
      byte === 0x2e ||
      byte === 0x5f
    if (keep) out += String.fromCharCode(byte)
    else if (byte === 0x20) out += '+'
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

function scalar(value: unknown, falseAs: string): string | null {
  // null/undefined vanish like PHP null; booleans are 1/falseAs; numbers are their decimal text.
  if (value === null || value === undefined) return null
  if (typeof value === 'boolean') return value ? '1' : falseAs
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NAN'
    if (!Number.isFinite(value)) return value > 0 ? 'INF' : '-INF'
    return String(value)
  }
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'string') return value
  return null
}

function entriesOf(value: object): [string, unknown][] {
  if (Array.isArray(value)) return value.map((v, i) => [String(i), v])
  return Object.entries(value)
}

/** Encodes nested data as `a%5Bb%5D%5B0%5D%5Bc%5D=v` pairs; empty arrays/objects and nulls vanish. */
export function httpBuildQuery(data: object, options: BuildOptions = {}): string {
  const falseAs = options.falseAs ?? ''
  const pairs: string[] = []
  const walk = (prefix: string | null, value: object): void => {
    for (const [key, item] of entriesOf(value)) {
      const name = prefix === null ? phpUrlencode(key) : `${prefix}%5B${phpUrlencode(key)}%5D`
      if (item !== null && typeof item === 'object') {
        walk(name, item)
        continue
      }
      const text = scalar(item, falseAs)
      if (text !== null) pairs.push(`${name}=${phpUrlencode(text)}`)
    }
  }
  walk(null, data)
  return pairs.join('&')
}

// ---- decoding (parse_str) ----

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  if (code >= 0x41 && code <= 0x46) return code - 0x37
  if (code >= 0x61 && code <= 0x66) return code - 0x57
  return -1
}

/** PHP `urldecode`: `+` → space, valid `%XX` → byte, anything else kept literally; bytes read as UTF-8. */
export function phpUrldecode(text: string): string {
  const raw = encoder.encode(text)
  const out = new Uint8Array(raw.length)
  let n = 0
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!
    if (byte === 0x2b) {
      out[n++] = 0x20
    } else if (byte === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1]!)
      const lo = hexValue(raw[i + 2]!)
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo
        i += 2
      } else {
        out[n++] = byte
      }
    } else {
      out[n++] = byte
    }
  }
  return new TextDecoder().decode(out.subarray(0, n))
}

/** Splits `a[b][]` into `['a', 'b', '']` with PHP's quirks (dots/spaces in the base name become `_`). */
export function splitPhpKey(rawKey: string): string[] | null {
  const key = rawKey.replace(/^ +/, '')
  const open = key.indexOf('[')
  let base = open === -1 ? key : key.slice(0, open)
  const segments: string[] = []
  if (open !== -1) {
    let i = open
    while (i < key.length && key[i] === '[') {
      const close = key.indexOf(']', i + 1)
      if (close === -1) {
        // PHP: an unmatched first `[` is kept in the name as `_`; a later one ends the key.
        if (segments.length === 0) base = `${base}_${key.slice(i + 1)}`
        break
      }
      segments.push(key.slice(i + 1, close))
      i = close + 1
    }
  }
  base = base.replace(/[ .]/g, '_')
  if (base === '') return null
  return [base, ...segments]
}

type Tree = Map<string, Tree | string>

function nextIndex(tree: Tree): string {
  let max = -1
  for (const k of tree.keys()) if (/^(0|-?[1-9]\d*)$/.test(k)) max = Math.max(max, Number(k))
  return String(max + 1)
}

function canonicalKey(key: string): string {
  // PHP turns decimal integer strings into integer keys: "007" stays a string, "7" is 7.
  return /^(0|-?[1-9]\d{0,17})$/.test(key) ? String(Number(key)) : key
}

function insert(root: Tree, path: string[], value: string): void {
  let node = root
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!
    const key = seg === '' && i > 0 ? nextIndex(node) : canonicalKey(seg)
    if (i === path.length - 1) {
      node.set(key, value)
      return
    }
    let child = node.get(key)
    if (!(child instanceof Map)) {
      child = new Map()
      node.set(key, child)
    }
    node = child
  }
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty keeps a `__proto__` key an ordinary own property.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/** A PHP array as JSON would show it: a list when its keys are exactly 0..n-1 in order, else an object. */
export function treeToPlain(tree: Tree): unknown {
  const keys = [...tree.keys()]
  const isList = keys.length > 0 && keys.every((k, i) => k === String(i))
  if (isList) return keys.map((k) => plainValue(tree.get(k)!))
  const out: Record<string, unknown> = {}
  for (const [k, v] of tree) setOwn(out, k, plainValue(v))
  return out
}

function plainValue(value: Tree | string): unknown {
  return typeof value === 'string' ? value : treeToPlain(value)
}

/** Builds a parameter object from already-decoded `[name, value]` pairs (query, form or multipart fields). */
export function pairsToParams(pairs: Iterable<[string, string]>): Record<string, unknown> {
  const root: Tree = new Map()
  for (const [name, value] of pairs) {
    const path = splitPhpKey(name)
    if (path) insert(root, path, value)
  }
  const plain = treeToPlain(root)
  if (Array.isArray(plain)) {
    const out: Record<string, unknown> = {}
    plain.forEach((v, i) => {
      out[String(i)] = v
    })
    return out
  }
  return plain as Record<string, unknown>
}

/** PHP `parse_str`: `a[b][0][c]=1&a[]=2` → nested arrays; later duplicates win; all values are strings. */
export function parsePhpQuery(query: string): Record<string, unknown> {
  const text = query.startsWith('?') ? query.slice(1) : query
  const pairs: [string, string][] = []
  for (const part of text.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = phpUrldecode(eq === -1 ? part : part.slice(0, eq))
    const value = eq === -1 ? '' : phpUrldecode(part.slice(eq + 1))
    pairs.push([name, value])
  }
  return pairsToParams(pairs)
}
