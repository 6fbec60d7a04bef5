import { describe, expect, test } from 'bun:test'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreateEmbeddedKeys } from '../../src/crypto/embedded-key.ts'
import { DecryptError, generateKey, KeyRing } from '../../src/crypto/key-ring.ts'

const oldKey = `k1:${generateKey()}`
const newKey = `k2:${generateKey()}`

describe('S4: secrets at rest are sealed with AES-256-GCM under a key ring', () => {
  test('S4: a sealed value opens to the original and does not contain it', () => {
    const ring = KeyRing.fromText(oldKey)
    const sealed = ring.seal('+79123456789', 'accounts.phone')
    expect(sealed.includes(Buffer.from('+79123456789'))).toBe(false)
    expect(ring.openText(sealed, 'accounts.phone')).toBe('+79123456789')
    // A fresh data key and nonce every time: equal plaintexts do not give equal ciphertexts.
    expect(ring.seal('+79123456789', 'accounts.phone').equals(sealed)).toBe(false)
  })

  test('S4: rotation — new writes use the newest key, old ciphertexts still open', () => {
    const before = KeyRing.fromText(oldKey)
    const sealedOld = before.seal('token-1', 'portals.access_token')
    const after = KeyRing.fromText(`${oldKey},${newKey}`)
    expect(after.activeKeyId).toBe('k2')
    const sealedNew = after.seal('token-2', 'portals.access_token')
    expect(after.keyIdOf(sealedOld)).toBe('k1')
    expect(after.keyIdOf(sealedNew)).toBe('k2')
    expect(after.openText(sealedOld, 'portals.access_token')).toBe('token-1')
    expect(after.openText(sealedNew, 'portals.access_token')).toBe('token-2')
    // Once k1 is dropped from the ring, values still sealed with it are unreadable (re-encrypt first).
    const onlyNew = KeyRing.fromText(newKey)
    expect(() => onlyNew.open(sealedOld, 'portals.access_token')).toThrow(DecryptError)
  })

  test('S4: tampering and context swaps are detected', () => {
    const ring = KeyRing.fromText(oldKey)
    const sealed = ring.seal('session bytes', 'account_sessions.value')
    const flipped = Buffer.from(sealed)
    flipped[flipped.length - 1]! ^= 1
    expect(() => ring.open(flipped, 'account_sessions.value')).toThrow(DecryptError)
    expect(() => ring.open(sealed, 'portals.access_token')).toThrow(DecryptError)
    expect(() => ring.open(Buffer.from('plain'), 'x')).toThrow(DecryptError)
  })

  test('derived keys differ by purpose and by active key', () => {
    const ring = KeyRing.fromText(oldKey)
    expect(ring.deriveKey('a')).toHaveLength(32)
    expect(ring.deriveKey('a').equals(ring.deriveKey('b'))).toBe(false)
    expect(ring.deriveKey('a').equals(KeyRing.fromText(newKey).deriveKey('a'))).toBe(false)
  })

  test('S4: the embedded key is generated once, owner-readable only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'olchat-key-'))
    try {
      const first = loadOrCreateEmbeddedKeys(dir)
      expect(first.created).toBe(true)
      const path = join(dir, 'encryption-keys')
      expect(statSync(path).mode & 0o777).toBe(0o600)
      const again = loadOrCreateEmbeddedKeys(dir)
      expect(again).toEqual({ text: first.text, created: false })
      expect(KeyRing.fromText(again.text).activeKeyId).toBe('k1')
      // A loosened mode is tightened back.
      chmodSync(path, 0o644)
      loadOrCreateEmbeddedKeys(dir)
      expect(statSync(path).mode & 0o777).toBe(0o600)
      expect(readFileSync(path, 'utf8').trim()).toBe(first.text)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
