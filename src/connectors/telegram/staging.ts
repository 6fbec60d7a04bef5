/**
 * @module A login's mtcute storage is staged in memory and reaches the account's `telegram_*` tables only
 * when the account's client starts. During a login a new account has no row yet (the tables' foreign key
 * refuses every write), and a re-login that ends up refused must leave the account's session as it was.
 *
 * `completeLogin` serialises what the account needs — the permanent auth key of each DC, mtcute's key-value
 * entries (DC options, self, the update position) and the peers seen — into the login's session store under
 * `SESSION_KEYS.staged`; the admin API stores that with the account (sealed). The account's client then
 * replaces the account's rows with it and deletes the entry (`importStaged`): a crash in between only
 * imports the same contents again. Temporary (PFS) keys and message refs are not carried: mtcute makes them
 * again.
 */
import { type ITelegramStorageProvider, MemoryStorage } from '@mtcute/core'
import * as v from 'valibot'
import type { SessionStore } from '../../bridge/login.ts'
import { SESSION_KEYS } from './session-keys.ts'

const Bytes = v.pipe(
  v.string(),
  v.base64(),
  v.transform((text) => new Uint8Array(Buffer.from(text, 'base64'))),
)
const AUTH_KEY_BYTES = 256

const StagedSchema = v.object({
  version: v.literal(1),
  authKeys: v.array(
    v.object({
      dc: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)),
      key: v.pipe(
        Bytes,
        v.check((key) => key.length === AUTH_KEY_BYTES, 'an auth key has 256 bytes'),
      ),
    }),
  ),
  kv: v.array(v.object({ key: v.pipe(v.string(), v.minLength(1), v.maxLength(256)), value: Bytes })),
  peers: v.array(
    v.object({
      id: v.pipe(v.number(), v.safeInteger()),
      accessHash: v.pipe(v.string(), v.maxLength(64)),
      isMin: v.optional(v.boolean(), false),
      usernames: v.array(v.pipe(v.string(), v.maxLength(64))),
      updated: v.pipe(v.number(), v.safeInteger()),
      phone: v.optional(v.pipe(v.string(), v.maxLength(32))),
      complete: Bytes,
    }),
  ),
})

export type StagedSession = v.InferOutput<typeof StagedSchema>

/** A fresh storage for one login. */
export function stagingStorage(): MemoryStorage {
  return new MemoryStorage()
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

/** What the login's storage holds, serialised for the session store. */
export function exportStaged(storage: MemoryStorage): string {
  const staged = {
    version: 1,
    authKeys: [...storage.authKeys.state.authKeys].map(([dc, key]) => ({ dc, key: base64(key) })),
    kv: [...storage.kv.state].map(([key, value]) => ({ key, value: base64(value) })),
    peers: [...storage.peers.state.entities.values()].map((peer) => ({
      ...peer,
      // mtcute leaves it undefined for users without the flag.
      isMin: peer.isMin === true,
      complete: base64(peer.complete),
    })),
  }
  return JSON.stringify(staged)
}

/** The staged login in `session`: undefined when there is none, 'invalid' when it does not parse. */
export async function readStaged(session: SessionStore): Promise<StagedSession | 'invalid' | undefined> {
  const stored = await session.get(SESSION_KEYS.staged)
  if (stored === undefined) return undefined
  try {
    const parsed = v.safeParse(StagedSchema, JSON.parse(new TextDecoder().decode(stored)))
    return parsed.success ? parsed.output : 'invalid'
  } catch {
    return 'invalid'
  }
}

/** Replaces everything in `target` with the staged contents. */
export async function writeStaged(staged: StagedSession, target: ITelegramStorageProvider): Promise<void> {
  await target.authKeys.deleteAll()
  await target.kv.deleteAll()
  await target.peers.deleteAll()
  await target.refMessages.deleteAll()
  for (const { dc, key } of staged.authKeys) await target.authKeys.set(dc, key)
  for (const { key, value } of staged.kv) await target.kv.set(key, value)
  for (const { phone, ...peer } of staged.peers) {
    await target.peers.store(phone === undefined ? peer : { ...peer, phone })
  }
}

/**
 * Moves a staged login from `session` into the account's storage, if there is one, and deletes the entry.
 * @returns 'none' (nothing staged), 'imported', or 'invalid' (the entry does not parse: left in place)
 */
export async function importStaged(
  session: SessionStore,
  target: ITelegramStorageProvider,
): Promise<'none' | 'imported' | 'invalid'> {
  const staged = await readStaged(session)
  if (staged === undefined) return 'none'
  if (staged === 'invalid') return 'invalid'
  await writeStaged(staged, target)
  await session.delete(SESSION_KEYS.staged)
  return 'imported'
}
