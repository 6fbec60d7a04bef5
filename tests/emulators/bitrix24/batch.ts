/**
 * @module `batch` (§4.5): up to 50 `method?query` commands (query parsed like PHP `parse_str`),
 * `$result[key][…]` references to earlier answers, `halt`, and the
 * `result/result_error/result_total/result_next/result_time` answer. The outer call counts once against the
 * leaky bucket; inner calls count toward the execution-time limit (that accounting lives in `rest.ts`).
 */
import type { CallContext } from './call.ts'
import { isRecord, RestError } from './errors.ts'
import { parsePhpQuery } from './php-form.ts'

export interface InnerOutcome {
  result: unknown
  total?: number
  next?: number
  time: Record<string, unknown>
}

export type InnerExec = (
  ctx: CallContext,
  method: string,
  params: Record<string, unknown>,
) => Promise<InnerOutcome>

/** JSON of a PHP array: `[]` when empty, a list when keys are 0..n-1 in order, else an object. */
export function phpArray(entries: [string, unknown][]): unknown {
  if (entries.length === 0) return []
  if (entries.every(([k], i) => k === String(i))) return entries.map(([, v]) => v)
  return Object.fromEntries(entries)
}

const REF = /\$(result|result_error|result_total|result_next|result_time)\[([^\]]*)\]((?:\[[^\]]*\])*)/g

function lookup(root: unknown, path: string[]): unknown {
  let node = root
  for (const seg of path) {
    if (Array.isArray(node)) node = node[Number(seg)]
    else if (isRecord(node)) node = node[seg]
    else return undefined
  }
  return node
}

function resolveRefs(value: unknown, answers: Record<string, Map<string, unknown>>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, answers))
  if (isRecord(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = resolveRefs(v, answers)
    return out
  }
  if (typeof value !== 'string' || !value.includes('$result')) return value
  const find = (kind: string, key: string, rest: string): unknown => {
    const path = [...rest.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!)
    return lookup(answers[kind]?.get(key), path)
  }
  // A value that is exactly one reference takes the referenced value as is (arrays too).
  const whole = new RegExp(`^${REF.source}$`).exec(value)
  if (whole) {
    const found = find(whole[1]!, whole[2]!, whole[3]!)
    return found === undefined ? value : found
  }
  // Inside a longer string only scalars are substituted; unresolved references stay as written.
  return value.replace(REF, (all, kind: string, key: string, rest: string) => {
    const found = find(kind, key, rest)
    return typeof found === 'string' || typeof found === 'number' || typeof found === 'boolean'
      ? String(found)
      : all
  })
}

function truthy(value: unknown): boolean {
  return !(
    value === undefined ||
    value === null ||
    value === false ||
    value === '' ||
    value === '0' ||
    value === 0
  )
}

export async function runBatch(
  ctx: CallContext,
  params: Record<string, unknown>,
  exec: InnerExec,
): Promise<Record<string, unknown>> {
  const halt = truthy(params.halt)
  const cmd = params.cmd
  const commands: [string, unknown][] = Array.isArray(cmd)
    ? cmd.map((c, i) => [String(i), c])
    : isRecord(cmd)
      ? Object.entries(cmd)
      : []
  // §4.5: more than 50 commands refuse the whole call.
  if (commands.length > 50)
    throw new RestError('ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded', 400)
  const answers = {
    result: new Map<string, unknown>(),
    result_error: new Map<string, unknown>(),
    result_total: new Map<string, unknown>(),
    result_next: new Map<string, unknown>(),
    result_time: new Map<string, unknown>(),
  }
  for (const [key, command] of commands) {
    try {
      if (typeof command !== 'string')
        throw new RestError('ERROR_ARGUMENT', 'Batch command must be a string', 400)
      const q = command.indexOf('?')
      const method = (q === -1 ? command : command.slice(0, q)).trim().toLowerCase()
      const query = q === -1 ? '' : command.slice(q + 1)
      const parsed = parsePhpQuery(query)
      delete parsed.auth // the outer call's auth applies to every command
      const inner = resolveRefs(parsed, answers) as Record<string, unknown>
      const outcome = await exec(ctx, method, inner)
      answers.result.set(key, outcome.result)
      if (outcome.total !== undefined) answers.result_total.set(key, outcome.total)
      if (outcome.next !== undefined) answers.result_next.set(key, outcome.next)
      answers.result_time.set(key, outcome.time)
    } catch (e) {
      const err =
        e instanceof RestError ? e : new RestError('INTERNAL_SERVER_ERROR', 'Internal server error', 500)
      answers.result_error.set(key, { error: err.code, error_description: err.description })
      if (halt) break
    }
  }
  return {
    result: phpArray([...answers.result]),
    result_error: phpArray([...answers.result_error]),
    result_total: phpArray([...answers.result_total]),
    result_next: phpArray([...answers.result_next]),
    result_time: phpArray([...answers.result_time]),
  }
}
