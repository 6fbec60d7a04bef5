/**
 * @module REST errors in the §4.4 shape `{"error","error_description"}` with their HTTP status.
 */

export class RestError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly status: number,
  ) {
    super(`${code}: ${description}`)
  }
}

/** §5: required top-level params are checked with `isset`, so only a missing/null value fails. */
export function argumentNull(name: string): RestError {
  return new RestError('ERROR_ARGUMENT', `Argument '${name}' is null or empty`, 400)
}

export function requireArgs(params: Record<string, unknown>, names: string[]): void {
  for (const name of names) {
    if (params[name] === undefined || params[name] === null) throw argumentNull(name)
  }
}

/** PHP `empty()`: '', '0', 0, false, null, [] and {} are empty. */
export function phpEmpty(value: unknown): boolean {
  if (
    value === undefined ||
    value === null ||
    value === false ||
    value === '' ||
    value === '0' ||
    value === 0
  ) {
    return true
  }
  if (Array.isArray(value)) return value.length === 0
  if (typeof value === 'object') return Object.keys(value).length === 0
  return false
}

/** PHP `(int)` cast of a request value: leading integer digits, else 0. */
export function phpInt(value: unknown): number {
  if (typeof value === 'number') return Math.trunc(value)
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'string') {
    const m = /^\s*([+-]?\d+)/.exec(value)
    return m ? Number(m[1]) : 0
  }
  return 0
}

export function phpString(value: unknown): string {
  if (value === undefined || value === null || value === false) return ''
  if (value === true) return '1'
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  return ''
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A PHP array's values in order, whether it arrived as a JSON list or a keyed object. */
export function listValues(value: unknown): unknown[] {
  if (Array.isArray(value)) return value
  if (isRecord(value)) return Object.values(value)
  return []
}

function mapKeys(value: unknown, fn: (k: string) => string, deep: boolean): unknown {
  if (Array.isArray(value)) return deep ? value.map((v) => mapKeys(v, fn, deep)) : value
  if (!isRecord(value)) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, fn(k), {
      value: deep ? mapKeys(v, fn, deep) : v,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}

/** `array_change_key_case(CASE_UPPER)` (top level) and the `Converter` recursive variants (§4.2). */
export function upperKeys(value: Record<string, unknown>): Record<string, unknown> {
  return mapKeys(value, (k) => k.toUpperCase(), false) as Record<string, unknown>
}

export function upperKeysDeep(value: unknown): unknown {
  return mapKeys(value, (k) => k.toUpperCase(), true)
}

export function lowerKeysDeep(value: unknown): unknown {
  return mapKeys(value, (k) => k.toLowerCase(), true)
}
