/**
 * @module The device parameters an account shows Telegram (its entry in "Active sessions"). A login records
 * the ones it used in the account's session store, and every later connect presents the same ones: a
 * session whose device changes looks hijacked, and a configuration change must not alter existing accounts.
 */
import * as v from 'valibot'
import type { SessionStore } from '../../bridge/login.ts'
import { SESSION_KEYS } from './session-keys.ts'

const DeviceSchema = v.object({
  deviceModel: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  systemVersion: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  appVersion: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  langCode: v.pipe(v.string(), v.regex(/^[a-z]{2}$/)),
})

export type TelegramDevice = v.InferOutput<typeof DeviceSchema>

export async function rememberDevice(session: SessionStore, device: TelegramDevice): Promise<void> {
  await session.set(SESSION_KEYS.device, JSON.stringify(v.parse(DeviceSchema, device)))
}

/** The device the account logged in with; `fallback` when none was recorded or it does not parse. */
export async function deviceOf(session: SessionStore, fallback: TelegramDevice): Promise<TelegramDevice> {
  const stored = await session.get(SESSION_KEYS.device)
  if (stored === undefined) return fallback
  try {
    const parsed = v.safeParse(DeviceSchema, JSON.parse(new TextDecoder().decode(stored)))
    return parsed.success ? parsed.output : fallback
  } catch {
    return fallback
  }
}
