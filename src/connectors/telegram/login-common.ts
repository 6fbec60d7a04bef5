/**
 * @module What the Telegram login flows share: the error → step mapping (reference §2.2), the attempt limit
 * per phone number, and the `complete` step. mtcute keeps no login state between calls (§2.2), so a flow
 * carries the phone and `phoneCodeHash` itself and keeps one client (one auth key) from code to sign-in.
 * That client runs over a storage of its own in memory, staged into the session at the end (`staging.ts`).
 */
import { type MemoryStorage, tl, type User } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
import { FloodWaitError, InvalidLoginInputError, TransientNetworkError } from '../../bridge/errors.ts'
import { toLoginStepId, toRemoteUserId } from '../../bridge/ids.ts'
import type { CompleteStep, LocalizedText, LoginContext, UserInputStep } from '../../bridge/login.ts'
import { rememberDevice, type TelegramDevice } from './device.ts'
import { floodWaitSeconds } from './errors.ts'
import { loginTexts } from './login-texts.ts'
import { SESSION_KEYS } from './session-keys.ts'
import { exportStaged } from './staging.ts'

/** A login's client and the in-memory storage it runs over. */
export interface LoginClient {
  tg: TelegramClient
  storage: MemoryStorage
}

/** What a login runs on: clients over a staging storage of their own, presenting `device`. */
export interface LoginClients {
  /** A client not yet connected, over a fresh staging storage. */
  open(): LoginClient
  /** Recorded with the account at the end, so its later connections present the same device. */
  device: TelegramDevice
}

/** A flood wait during login, with a text for the form; still a `FloodWaitError` for generic handlers. */
export class LoginFloodWaitError extends FloodWaitError {
  readonly explanation: LocalizedText
  constructor(seconds: number, options?: ErrorOptions) {
    super(seconds, options)
    this.explanation = loginTexts.floodWait(seconds)
  }
}

/**
 * Code requests per phone number within a sliding window, across all flows of this process: Telegram bans
 * numbers that ask for codes too often (PHONE_NUMBER_FLOOD), so we stop well before it does.
 */
export class LoginAttempts {
  readonly #sent = new Map<string, number[]>()

  constructor(
    private readonly limit = 5,
    private readonly windowMs = 30 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a code request. @throws InvalidLoginInputError when the phone is over its limit. */
  take(phone: string): void {
    const now = this.now()
    const recent = (this.#sent.get(phone) ?? []).filter((at) => now - at < this.windowMs)
    if (recent.length >= this.limit) {
      const minutes = Math.ceil((recent[0]! + this.windowMs - now) / 60_000)
      this.#sent.set(phone, recent)
      throw new InvalidLoginInputError('phone', loginTexts.tooManyAttempts(minutes))
    }
    recent.push(now)
    this.#sent.set(phone, recent)
  }
}

/** Digits only, the way Telegram (and mtcute's sendCode) takes a phone number. */
export function normalizePhone(input: string): string | undefined {
  const trimmed = input.trim()
  if (!/^\+?[0-9 ()-]{5,24}$/.test(trimmed)) return undefined
  const digits = trimmed.replace(/\D/g, '')
  return digits.length >= 5 && digits.length <= 15 ? digits : undefined
}

export const isRpc = (error: unknown, text: string): boolean =>
  tl.RpcError.is(error) && (error.text === text || error.message === text)

/**
 * Errors that end up the same in every step. @returns the error to throw (a typed one), or undefined when
 * the caller must decide.
 */
export function commonLoginError(error: unknown): Error | undefined {
  const seconds = floodWaitSeconds(error)
  if (seconds !== undefined) return new LoginFloodWaitError(seconds, { cause: error })
  if (isRpc(error, 'PHONE_NUMBER_FLOOD') || isRpc(error, 'PHONE_PASSWORD_FLOOD')) {
    return new InvalidLoginInputError('phone', loginTexts.phoneFlood)
  }
  if (tl.RpcError.is(error) && (error.code >= 500 || error.code < 0) && error.text !== 'AUTH_RESTART') {
    return new TransientNetworkError(`${error.code} ${error.text}`, { cause: error })
  }
  return undefined
}

export function passwordStep(hint: string | null): UserInputStep {
  return {
    type: 'user-input',
    stepId: toLoginStepId('telegram.password'),
    instructions: loginTexts.passwordPrompt(hint),
    fields: [{ id: 'password', kind: 'password', label: { ru: 'Пароль', en: 'Password' } }],
  }
}

/**
 * Records the login (its device, its staged mtcute storage with the update position of this moment) in
 * the account's session and names the account. mtcute starts a client without a stored position from "now"
 * and drops what came before (reference §3.4), so without the position a message arriving between login and
 * the account's first connection would be lost; with it, that connection catches up from here.
 */
export async function completeLogin(
  context: LoginContext,
  user: User,
  device: TelegramDevice,
  login: LoginClient,
): Promise<CompleteStep> {
  const { tg } = login
  // The login client's own loop (started by mtcute at sign-in) has no listeners: stop it from moving on.
  await tg.stopUpdatesLoop()
  const state = await tg.call({ _: 'updates.getState' })
  await tg.storage.updates.setPts(state.pts)
  await tg.storage.updates.setQts(state.qts)
  await tg.storage.updates.setDate(state.date)
  await tg.storage.updates.setSeq(state.seq)
  await context.session.set(SESSION_KEYS.staged, exportStaged(login.storage))
  await rememberDevice(context.session, device)
  await context.session.set(SESSION_KEYS.user, String(user.id))
  const name = user.displayName
  return {
    type: 'complete',
    stepId: toLoginStepId('telegram.complete'),
    instructions: loginTexts.complete(name),
    account: {
      remoteId: toRemoteUserId(String(user.id)),
      displayName: name,
      ...(user.username ? { username: user.username } : {}),
      ...(user.phoneNumber ? { phone: `+${user.phoneNumber}` } : {}),
    },
  }
}
