/**
 * @module AES-256-GCM envelope encryption with a key ring (PRIVACY S4).
 *
 * Each value gets a fresh 32-byte data key; the data key is wrapped by the ring's active master key. Rotation
 * without downtime: append a new key to `OLCHAT_ENCRYPTION_KEYS` (it becomes active), restart, then run
 * `npm run olchat -- reencrypt` to re-seal old values; only then drop the old key.
 *
 * Layout: `0x01 | idLen | keyId | wrapIv(12) | wrappedKey(32) | wrapTag(16) | iv(12) | tag(16) | ciphertext`.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { SecretBox } from './secret-box.ts'

const FORMAT = 0x01
const IV = 12
const TAG = 16
const KEY = 32

export class DecryptError extends Error {
  override name = 'DecryptError'
}

function gcmSeal(key: Uint8Array, plain: Uint8Array, aad: Buffer): [Buffer, Buffer, Buffer] {
  const iv = randomBytes(IV)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(aad)
  const body = Buffer.concat([cipher.update(plain), cipher.final()])
  return [iv, cipher.getAuthTag(), body]
}

function gcmOpen(key: Uint8Array, iv: Buffer, tag: Buffer, body: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  decipher.setAAD(aad)
  decipher.setAuthTag(tag)
  return Buffer.concat([decipher.update(body), decipher.final()])
}

/** Parses `id:base64,id:base64` (already validated by the config schema). */
export function parseKeyRing(text: string): Map<string, Buffer> {
  const ring = new Map<string, Buffer>()
  for (const entry of text.split(',')) {
    const [id, key] = entry.trim().split(':')
    if (!id || !key) throw new Error('key ring entry must be keyId:base64')
    const bytes = Buffer.from(key, 'base64')
    if (bytes.length !== KEY) throw new Error(`key ${id} must be ${KEY} bytes`)
    ring.set(id, bytes)
  }
  if (ring.size === 0) throw new Error('key ring is empty')
  return ring
}

export function generateKey(): string {
  return randomBytes(KEY).toString('base64')
}

export class KeyRing implements SecretBox {
  readonly activeKeyId: string
  readonly #keys: Map<string, Buffer>

  /** @param keys ordered oldest → newest; the last one seals new data. */
  constructor(keys: Map<string, Buffer>) {
    const ids = [...keys.keys()]
    if (ids.length === 0) throw new Error('key ring is empty')
    this.#keys = keys
    this.activeKeyId = ids[ids.length - 1]!
  }

  static fromText(text: string): KeyRing {
    return new KeyRing(parseKeyRing(text))
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()]
  }

  seal(plain: Uint8Array | string, context: string): Buffer {
    const id = Buffer.from(this.activeKeyId)
    const aad = Buffer.concat([id, Buffer.from(`\0${context}`)])
    const dataKey = randomBytes(KEY)
    const [wrapIv, wrapTag, wrapped] = gcmSeal(this.#keys.get(this.activeKeyId)!, dataKey, aad)
    const bytes = typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain
    const [iv, tag, body] = gcmSeal(dataKey, bytes, aad)
    dataKey.fill(0)
    return Buffer.concat([Buffer.from([FORMAT, id.length]), id, wrapIv, wrapped, wrapTag, iv, tag, body])
  }

  keyIdOf(sealed: Uint8Array): string {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
    if (buf.length < 2 || buf[0] !== FORMAT) throw new DecryptError('not a sealed value')
    return buf.subarray(2, 2 + buf[1]!).toString()
  }

  open(sealed: Uint8Array, context: string): Buffer {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
    const keyId = this.keyIdOf(buf)
    const master = this.#keys.get(keyId)
    if (!master) throw new DecryptError(`sealed with key ${keyId}, which is not in the key ring`)
    let at = 2 + buf[1]!
    const take = (n: number) => {
      const part = buf.subarray(at, at + n)
      at += n
      return part
    }
    const aad = Buffer.concat([Buffer.from(keyId), Buffer.from(`\0${context}`)])
    const [wrapIv, wrapped, wrapTag, iv, tag] = [take(IV), take(KEY), take(TAG), take(IV), take(TAG)]
    const body = buf.subarray(at)
    try {
      const dataKey = gcmOpen(master, wrapIv, wrapTag, wrapped, aad)
      return gcmOpen(dataKey, iv, tag, body, aad)
    } catch (error) {
      throw new DecryptError('sealed value is corrupt or belongs to another context', { cause: error })
    }
  }

  /**
   * A 32-byte key for another purpose (e.g. signing download links), derived from the active key with HKDF,
   * so one secret is configured and each use gets its own key.
   */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#keys.get(this.activeKeyId)!, Buffer.alloc(0), purpose, KEY))
  }

  openText(sealed: Uint8Array, context: string): string {
    return this.open(sealed, context).toString('utf8')
  }
}
