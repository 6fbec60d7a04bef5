/**
 * @module MAX's refusals → the bridge's typed errors (reference/max-bot-api.md §2.5), and the Russian/English
 * texts of the token login. 401 is a revoked token; 429 a flood wait; 5xx, timeouts, lost answers and an
 * answer we cannot read are transient; `attachment.not.ready` is transient once our own retries are spent;
 * any other 4xx or `success: false` refuses this item for good.
 */
import {
  FloodWaitError,
  NeedsLoginError,
  PermanentSendError,
  TransientNetworkError,
} from '../../bridge/errors.ts'
import type { LocalizedText } from '../../bridge/login.ts'
import { MaxApiError } from './api.ts'

/** A 429 without `Retry-After` (MAX documents none, §2.4) waits this long. */
export const DEFAULT_FLOOD_SECONDS = 2

export function floodSeconds(error: MaxApiError): number {
  return Math.max(1, Math.ceil(error.retryAfterSeconds ?? DEFAULT_FLOOD_SECONDS))
}

export const isNotReady = (error: unknown) =>
  error instanceof MaxApiError && error.code === 'attachment.not.ready'

/** Maps any failure of a client call; typed bridge errors pass through. */
export function toBridgeError(error: unknown): Error {
  if (!(error instanceof MaxApiError)) {
    return error instanceof Error ? error : new TransientNetworkError(String(error))
  }
  if (error.status === 401) return new NeedsLoginError('revoked', { cause: error })
  if (error.status === 429) return new FloodWaitError(floodSeconds(error), { cause: error })
  if (
    error.status >= 500 ||
    error.status === 408 ||
    isNotReady(error) ||
    error.code === 'unexpected.response'
  ) {
    return new TransientNetworkError(error.message, { cause: error })
  }
  return new PermanentSendError(error.code, error.message, { cause: error })
}

export const loginTexts = {
  tokenMissing: {
    ru: 'Вставьте токен бота MAX (business.max.ru → Чат-боты → бот → Настройки → токен).',
    en: 'Paste the MAX bot token (business.max.ru → Chat bots → your bot → Settings → token).',
  },
  tokenRejected: {
    ru: 'MAX не принял этот токен. Проверьте, что он скопирован целиком и не был отозван, и вставьте его ещё раз.',
    en: 'MAX did not accept this token. Check that it was copied whole and was not revoked, then paste it again.',
  },
  notABot: {
    ru: 'Этот токен принадлежит не боту. Нужен токен чат-бота с business.max.ru.',
    en: 'This token does not belong to a bot. Use a chat bot token from business.max.ru.',
  },
  floodWait: (seconds: number): LocalizedText => ({
    ru: `MAX просит подождать ${seconds} с. Повторите попытку позже.`,
    en: `MAX asks to wait ${seconds} s. Try again later.`,
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
