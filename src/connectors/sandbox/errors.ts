/**
 * @module The sandbox's error names → the bridge's typed errors, for the calls of a logged-in client, and the
 * Russian/English texts the login steps show. Unknown refusals of a request count as permanent (the same
 * request will be refused again); server errors and lost answers as transient.
 */
import {
  FloodWaitError,
  NeedsLoginError,
  PermanentSendError,
  TransientNetworkError,
} from '../../bridge/errors.ts'
import type { LocalizedText } from '../../bridge/login.ts'
import { SandboxApiError } from './api.ts'

const FLOOD = /^FLOOD_WAIT_(\d+)$/

/** Seconds to wait if the error is a flood wait, else undefined. */
export function floodSeconds(error: SandboxApiError): number | undefined {
  const match = FLOOD.exec(error.error)
  if (!match && error.status !== 420) return undefined
  return Math.max(1, Math.ceil(error.seconds ?? Number(match?.[1] ?? 1)))
}

/** Maps any failure of a client call; typed bridge errors pass through. */
export function toBridgeError(error: unknown): Error {
  if (!(error instanceof SandboxApiError)) {
    return error instanceof Error ? error : new TransientNetworkError(String(error))
  }
  const seconds = floodSeconds(error)
  if (seconds !== undefined) return new FloodWaitError(seconds, { cause: error })
  if (error.error === 'AUTH_KEY_DUPLICATED') return new NeedsLoginError('revoked', { cause: error })
  if (error.error === 'AUTH_KEY_UNREGISTERED') return new NeedsLoginError('logged-out', { cause: error })
  if (error.status === 401 || error.status === 406) return new NeedsLoginError('revoked', { cause: error })
  if (error.status >= 500 || error.status === 429) {
    return new TransientNetworkError(error.message, { cause: error })
  }
  return new PermanentSendError(error.error, error.message, { cause: error })
}

/** Texts of the login errors a user can act on. */
export const loginTexts = {
  phoneInvalid: {
    ru: 'Номер телефона не подходит. Проверьте его и введите в международном формате, например +79991234567.',
    en: 'This phone number is not valid. Check it and enter it in international format, e.g. +79991234567.',
  },
  codeInvalid: {
    ru: 'Неверный код. Проверьте код и введите его ещё раз.',
    en: 'The code is wrong. Check it and enter it again.',
  },
  codeExpired: {
    ru: 'Срок действия кода истёк. Мы отправили новый код — введите его.',
    en: 'The code has expired. We have sent a new one — enter it.',
  },
  passwordInvalid: {
    ru: 'Неверный пароль двухэтапной проверки. Попробуйте ещё раз.',
    en: 'The two-step verification password is wrong. Try again.',
  },
  floodWait: (seconds: number): LocalizedText => ({
    ru: `Слишком много попыток. Повторите через ${seconds} с.`,
    en: `Too many attempts. Try again in ${seconds} s.`,
  }),
} as const

/** A flood wait during login, with a text for the form; still a `FloodWaitError` for generic handlers. */
export class LoginFloodWaitError extends FloodWaitError {
  readonly explanation: LocalizedText
  constructor(seconds: number, options?: ErrorOptions) {
    super(seconds, options)
    this.explanation = loginTexts.floodWait(seconds)
  }
}
