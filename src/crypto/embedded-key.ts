/** @module Embedded default for the key ring: generated once into the data dir, readable by the owner only. */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKey } from './key-ring.ts'

export const embeddedKeyFileName = 'encryption-keys'

/**
 * @returns the ring text stored in `<dataDir>/encryption-keys`, creating it (mode 0600) on first use, and
 * whether it was just created.
 */
export function loadOrCreateEmbeddedKeys(dataDir: string): { text: string; created: boolean } {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, embeddedKeyFileName)
  if (existsSync(path)) {
    // Someone loosened the mode: tighten it back rather than leave a key world-readable.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
    return { text: readFileSync(path, 'utf8').trim(), created: false }
  }
  const text = `k1:${generateKey()}`
  writeFileSync(path, `${text}\n`, { mode: 0o600, flag: 'wx' })
  return { text, created: true }
}
