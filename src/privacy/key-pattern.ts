/**
 * @module Key patterns of the policy (`p:{portal}:a:{account}:{rest}`, `p/{portal}/a/{account}/in/{id}`):
 * matching a live cache key or object key, and binding a subject's ids to get the prefix to list or delete.
 */

export type Placeholder = 'portal' | 'account' | 'id' | 'rest'
export type Bindings = Partial<Record<'portal' | 'account', string>>

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
const PIECE: Record<Placeholder, string> = {
  portal: `(?<portal>${UUID})`,
  account: `(?<account>${UUID})`,
  id: '[A-Za-z0-9._-]+',
  rest: '.+',
}
const PLACEHOLDER = /\{(portal|account|id|rest)\}/g

export interface CompiledPattern {
  pattern: string
  regex: RegExp
  /** Literal characters: the more, the more specific (a key matching several patterns takes this one). */
  literalLength: number
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

/** @throws Error for an unknown placeholder or `{rest}` anywhere but at the end. */
export function compilePattern(pattern: string): CompiledPattern {
  const unknown = pattern.replace(PLACEHOLDER, '').match(/\{[^}]*\}/)
  if (unknown) throw new Error(`key pattern ${pattern}: unknown placeholder ${unknown[0]}`)
  if (pattern.includes('{rest}') && !pattern.endsWith('{rest}')) {
    throw new Error(`key pattern ${pattern}: {rest} must come last`)
  }
  let source = ''
  let last = 0
  for (const match of pattern.matchAll(PLACEHOLDER)) {
    source += escapeRegExp(pattern.slice(last, match.index)) + PIECE[match[1] as Placeholder]
    last = match.index + match[0].length
  }
  source += escapeRegExp(pattern.slice(last))
  return {
    pattern,
    regex: new RegExp(`^${source}$`),
    literalLength: pattern.replace(PLACEHOLDER, '').length,
  }
}

/** The ids a key carries, or undefined when it does not match. */
export function matchKey(compiled: CompiledPattern, key: string): Bindings | undefined {
  const match = compiled.regex.exec(key)
  if (!match) return undefined
  const { portal, account } = match.groups ?? {}
  return { ...(portal ? { portal } : {}), ...(account ? { account } : {}) }
}

/** Of the patterns a key matches, the most specific one. */
export function bestMatch<T extends { compiled: CompiledPattern }>(
  candidates: readonly T[],
  key: string,
): { candidate: T; bindings: Bindings } | undefined {
  let best: { candidate: T; bindings: Bindings } | undefined
  for (const candidate of candidates) {
    const bindings = matchKey(candidate.compiled, key)
    if (!bindings) continue
    if (!best || candidate.compiled.literalLength > best.candidate.compiled.literalLength) {
      best = { candidate, bindings }
    }
  }
  return best
}

/**
 * The literal prefix of a pattern with `bindings` filled in, up to the first placeholder left open:
 * `p:{portal}:a:{account}:{rest}` with a portal gives `p:<portal>:a:`; with nothing bound, `p:`.
 */
export function boundPrefix(pattern: string, bindings: Bindings): string {
  let prefix = ''
  let last = 0
  for (const match of pattern.matchAll(PLACEHOLDER)) {
    prefix += pattern.slice(last, match.index)
    const value = bindings[match[1] as keyof Bindings]
    if (value === undefined) return prefix
    prefix += value
    last = match.index + match[0].length
  }
  return prefix + pattern.slice(last)
}

/**
 * The prefix holding a pattern's keys of the bound owner: the text up to and including the last bound id,
 * plus the separator after it (`p/{portal}/a/{account}/in/{id}` with a portal → `p/<portal>/`). Undefined
 * when the pattern lacks one of the bound ids, or an unbound placeholder comes first (it cannot be listed
 * by the owner's prefix).
 */
export function ownerPrefix(pattern: string, bindings: Bindings): string | undefined {
  const names = Object.keys(bindings) as (keyof Bindings)[]
  if (names.some((name) => !pattern.includes(`{${name}}`))) return undefined
  let prefix = ''
  let last = 0
  let left = names.length
  for (const match of pattern.matchAll(PLACEHOLDER)) {
    const value = bindings[match[1] as keyof Bindings]
    if (value === undefined) return undefined
    prefix += pattern.slice(last, match.index) + value
    last = match.index + match[0].length
    if (--left === 0) break
  }
  const separator = pattern[last]
  return separator !== undefined && /[^A-Za-z0-9{]/.test(separator) ? prefix + separator : prefix
}
