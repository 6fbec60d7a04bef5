/**
 * @module Portal REST endpoint (§4): `/rest/<method>[.json]` with `auth` in query, form or JSON body, webhook
 * URLs `/rest/<user>/<code>/<method>`, the leaky bucket (§4.6, 503), token checks (§3.3, 401), the per-method
 * execution-time limit (§4.6, 429), the `time` block on every answer (§4.3) and the §4.4 error shape.
 */
import { runBatch } from './batch.ts'
import { type CallContext, ListResult, type MethodDef } from './call.ts'
import type { Emulator } from './context.ts'
import { phpString, RestError } from './errors.ts'
import { BadBody, json, readParams } from './http-util.ts'
import { imconnectorMethods } from './imconnector.ts'
import { messageMethods } from './imconnector-messages.ts'
import { appMethods } from './methods-app.ts'
import { userMethods } from './methods-user.ts'
import type { Portal } from './state.ts'

const METHODS = new Map<string, MethodDef>(
  Object.entries({ ...appMethods, ...userMethods, ...imconnectorMethods, ...messageMethods }).map(
    ([k, v]) => [k.toLowerCase(), v],
  ),
)

function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

function isoSeconds(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}+00:00`
}

interface OpInfo {
  operating: number
  resetAt: number
}

/** §4.3 `time`; `operating*` only where a method was charged (batch sub-results omit them, §4.5 example). */
function timeBlock(start: number, finish: number, op: OpInfo | null): Record<string, unknown> {
  const t: Record<string, unknown> = {
    start: start / 1000,
    finish: finish / 1000,
    duration: (finish - start) / 1000,
    processing: (finish - start) / 1000,
    date_start: isoSeconds(start),
    date_finish: isoSeconds(finish),
  }
  if (op) {
    t.operating_reset_at = op.resetAt
    t.operating = op.operating
  }
  return t
}

function costOf(emu: Emulator, method: string, measured: number): number {
  const cost = emu.settings.operation.costSeconds
  if (typeof cost === 'number') return cost
  if (cost && cost[method] !== undefined) return cost[method]!
  return measured
}

interface Outcome {
  result: unknown
  total?: number
  next?: number
  op: OpInfo | null
  start: number
  finish: number
}

async function execute(
  ctx: CallContext,
  method: string,
  params: Record<string, unknown>,
  inBatch: boolean,
): Promise<Outcome> {
  const start = nowMs()
  if (method === 'batch') {
    // §4.5: no batch inside batch (rest 24.0.0).
    if (inBatch)
      throw new RestError('ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage', 405)
    const result = await runBatch(ctx, params, async (c, m, p) => {
      ctx.emu.stats.batched(m)
      const o = await execute(c, m, p, true)
      return { result: o.result, total: o.total, next: o.next, time: timeBlock(o.start, o.finish, null) }
    })
    return { result, op: null, start, finish: nowMs() }
  }
  const def = METHODS.get(method)
  if (!def) throw new RestError('ERROR_METHOD_NOT_FOUND', 'Method not found!', 404)
  if (ctx.authType === 'webhook' && def.appOnly === 'wrong-auth-type') {
    // §4.1: imconnector.* (and event.*) need OAuth app context.
    throw new RestError(
      'WRONG_AUTH_TYPE',
      'Current authorization type is denied for this method Application context required',
      403,
    )
  }
  if (ctx.authType === 'webhook' && def.appOnly === 'access-denied') {
    throw new RestError('ACCESS_DENIED', 'Access denied! Application context required', 400)
  }
  if (def.scope && ctx.clientId) {
    const granted = ctx.emu
      .app(ctx.clientId)
      .scope.split(',')
      .map((s) => s.trim())
    if (!def.scope.some((s) => granted.includes(s))) throw new RestError('insufficient_scope', '', 403)
  }
  const timer = ctx.emu.timer(ctx.portal)
  const key = `${ctx.clientId ?? `hook:${ctx.userId}`}|${method}`
  if (timer.blocked(key)) {
    throw new RestError('OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.', 429)
  }
  const t = performance.now()
  try {
    const value = await def.fn(ctx, params)
    if (value instanceof ListResult) {
      return { result: value.result, total: value.total, next: value.next, op: null, start, finish: nowMs() }
    }
    return { result: value, op: null, start, finish: nowMs() }
  } finally {
    // §4.6: time is charged whether the call succeeded or not.
    timer.add(key, costOf(ctx.emu, method, (performance.now() - t) / 1000))
  }
}

type AuthOutcome =
  | { ok: true; ctx: CallContext }
  | { ok: false; status: number; error: string; description: string }

function authenticate(
  emu: Emulator,
  portal: Portal,
  params: Record<string, unknown>,
  webhook: { userId: number; code: string } | null,
): AuthOutcome {
  const token = phpString(params.auth)
  delete params.auth
  if (webhook) {
    if (!portal.webhooks.has(`${webhook.userId}|${webhook.code}`)) {
      return { ok: false, status: 401, error: 'NO_AUTH_FOUND', description: 'Wrong authorization data' }
    }
    return {
      ok: true,
      ctx: { emu, portal, authType: 'webhook', clientId: null, installation: null, userId: webhook.userId },
    }
  }
  if (!token)
    return { ok: false, status: 401, error: 'NO_AUTH_FOUND', description: 'Wrong authorization data' }
  const check = emu.tokens.checkAccess(token)
  if (!check.ok) {
    const description =
      check.error === 'expired_token'
        ? 'The access token provided has expired.'
        : 'The access token provided is invalid.'
    return { ok: false, status: 401, error: check.error, description }
  }
  const inst = portal.installation(check.pair.clientId)
  if (check.pair.memberId !== portal.memberId || !inst) {
    return {
      ok: false,
      status: 401,
      error: 'invalid_token',
      description: 'The access token provided is invalid.',
    }
  }
  return {
    ok: true,
    ctx: {
      emu,
      portal,
      authType: 'oauth',
      clientId: inst.clientId,
      installation: inst,
      userId: check.pair.userId,
    },
  }
}

export async function handleRest(emu: Emulator, portal: Portal, req: Request, url: URL): Promise<Response> {
  const start = nowMs()
  const segments = url.pathname.slice('/rest/'.length).replace(/\/+$/, '').split('/')
  let webhook: { userId: number; code: string } | null = null
  let raw = ''
  if (segments.length === 3 && /^\d+$/.test(segments[0]!)) {
    webhook = { userId: Number(segments[0]), code: segments[1]! }
    raw = segments[2]!
  } else if (segments.length === 1) {
    raw = segments[0]!
  }
  const method = decodeURIComponent(raw)
    .replace(/\.json$/i, '')
    .toLowerCase()
  emu.stats.request(portal.memberId, method || '(none)')
  let op: OpInfo | null = null
  // §10: the `time` block on every answer, errors included.
  const respond = (status: number, body: Record<string, unknown>) => {
    emu.stats.status(portal.memberId, status)
    return json(status, { ...body, time: timeBlock(start, nowMs(), op) })
  }
  const fail = (e: RestError) => respond(e.status, { error: e.code, error_description: e.description })

  // §4.6: the bucket sees every request first; over it → 503 QUERY_LIMIT_EXCEEDED.
  if (!portal.bucket.tryTake()) return fail(new RestError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503))
  let params: Record<string, unknown>
  try {
    params = await readParams(req, url)
  } catch (e) {
    return fail(
      new RestError('INVALID_REQUEST', e instanceof BadBody ? e.message : 'Unreadable request', 400),
    )
  }
  const auth = authenticate(emu, portal, params, webhook)
  if (!auth.ok) return fail(new RestError(auth.error, auth.description, auth.status))
  if (!method) return fail(new RestError('ERROR_METHOD_NOT_FOUND', 'Method not found!', 404))
  const key = `${auth.ctx.clientId ?? `hook:${auth.ctx.userId}`}|${method}`
  try {
    const outcome = await execute(auth.ctx, method, params, false)
    if (method !== 'batch') op = emu.timer(portal).info(key)
    const body: Record<string, unknown> = { result: outcome.result }
    if (outcome.next !== undefined) body.next = outcome.next
    if (outcome.total !== undefined) body.total = outcome.total
    return respond(200, body)
  } catch (e) {
    if (method !== 'batch') op = emu.timer(portal).info(key)
    if (e instanceof RestError) return fail(e)
    console.error('bitrix24 emulator: method failed', method, e)
    return fail(new RestError('INTERNAL_SERVER_ERROR', 'Internal server error', 500))
  }
}
