/**
 * @module What a login step's failure looks like to the caller. A wrong value keeps the step (422 with the
 * connector's explanation in Russian and English, and the step to show again); a flood wait is a 429 with
 * `Retry-After`; a messenger that cannot be reached is a 503. Anything else is not the user's fault (500).
 */
import { FloodWaitError, InvalidLoginInputError, TransientNetworkError } from '../../bridge/errors.ts'
import type { LocalizedText } from '../../bridge/login.ts'
import { ApiError } from './errors.ts'
import type { LoginStepViewT } from './schemas.ts'

/** @returns the ApiError to answer with and the audit outcome, or undefined for an unexpected failure. */
export function stepFailure(
  error: unknown,
  step: LoginStepViewT,
): { error: ApiError; outcome: string } | undefined {
  if (error instanceof InvalidLoginInputError) {
    const details = { field: error.fieldId, explanation: error.explanation, step }
    return {
      error: new ApiError(422, 'invalid_login_input', error.explanation.en, details),
      outcome: 'invalid_input',
    }
  }
  if (error instanceof FloodWaitError) {
    const explanation = (error as FloodWaitError & { explanation?: LocalizedText }).explanation ?? {
      ru: `Мессенджер просит подождать ${error.seconds} с.`,
      en: `The messenger asks to wait ${error.seconds} s.`,
    }
    const details = { retryAfter: error.seconds, explanation, step }
    return {
      error: new ApiError(429, 'flood_wait', explanation.en, details),
      outcome: 'flood_wait',
    }
  }
  if (error instanceof TransientNetworkError) {
    const explanation = {
      ru: 'Мессенджер сейчас недоступен. Повторите шаг чуть позже.',
      en: 'The messenger cannot be reached right now. Repeat the step a little later.',
    }
    return {
      error: new ApiError(503, 'messenger_unreachable', explanation.en, { explanation, step }),
      outcome: 'unreachable',
    }
  }
  return undefined
}
