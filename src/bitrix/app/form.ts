/**
 * @module Form bodies as Bitrix24 sends them: `application/x-www-form-urlencoded` with PHP bracket keys
 * (reference/bitrix24.md §6.2, pitfall 1). qs's defaults silently mangle real events (an array of more than
 * 20 messages turns into an object, keys deeper than 5 are flattened), so the limits are raised and exceeding
 * one is an error instead of a quiet rewrite.
 */
import qs from 'qs'

export class FormError extends Error {
  override name = 'FormError'
}

const OPTIONS: qs.IParseOptions & { throwOnLimitExceeded: boolean; strictDepth: boolean } = {
  depth: 10,
  arrayLimit: 1000,
  parameterLimit: 10_000,
  strictDepth: true,
  throwOnLimitExceeded: true,
  allowPrototypes: false,
  plainObjects: true,
  allowDots: false,
  comma: false,
  charset: 'utf-8',
}

export function isFormContentType(header: string | undefined): boolean {
  return (header ?? '').split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded'
}

/** @throws FormError with a reason fit for a 400 answer */
export function parseForm(body: string): Record<string, unknown> {
  // A NUL can reach no text column, and nothing Bitrix24 sends carries one.
  if (/%00|\0/.test(body)) throw new FormError('body contains a NUL byte')
  let parsed: Record<string, unknown>
  try {
    parsed = qs.parse(body, OPTIONS) as Record<string, unknown>
  } catch (error) {
    throw new FormError(error instanceof RangeError ? error.message : 'body is not a valid form')
  }
  return parsed
}
