/**
 * @module App-level REST methods: `app.info` (§2.6), `user.admin` (§2.2: the page's AUTH_ID carries the
 * opening user's rights), `event.bind/get/unbind` (§6.1) and the Open Lines config methods (§5.15).
 */
import type { CallContext, MethodTable } from './call.ts'
import { isRecord, listValues, phpInt, phpString, RestError, upperKeys } from './errors.ts'
import { KNOWN_EVENTS } from './events.ts'

function appInfo(ctx: CallContext): unknown {
  const app = ctx.emu.app(ctx.clientId!)
  const inst = ctx.installation!
  const license = ctx.portal.license
  const type = license.includes('_') ? license.slice(license.indexOf('_') + 1) : license
  return {
    ID: [...ctx.emu.apps.keys()].indexOf(app.clientId) + 1,
    CODE: app.code,
    VERSION: inst.version,
    STATUS: ctx.portal.status,
    // §2.1: INSTALLED tells whether installFinish ran.
    INSTALLED: inst.finished,
    PAYMENT_EXPIRED: ctx.portal.paymentRequired ? 'Y' : 'N',
    DAYS: null,
    LANGUAGE_ID: inst.languageId,
    LICENSE: license,
    LICENSE_TYPE: type,
    LICENSE_FAMILY: type.replace(/\d+$/, ''),
  }
}

function validHandler(url: string): boolean {
  try {
    const u = new URL(url)
    return u.protocol === 'http:' || u.protocol === 'https:'
  } catch {
    return false
  }
}

function eventBind(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  const event = phpString(p.EVENT).toUpperCase()
  if (!event) throw new RestError('ERROR_ARGUMENT', "Argument 'event' is null or empty", 400)
  // §6.1: names are case-insensitive; unknown → 400 ERROR_EVENT_NOT_FOUND.
  if (!KNOWN_EVENTS.has(event)) throw new RestError('ERROR_EVENT_NOT_FOUND', 'Event not found', 400)
  const user = ctx.portal.users.get(ctx.userId)
  const offline = phpString(p.EVENT_TYPE).toLowerCase() === 'offline'
  if (offline && !user?.admin) throw new RestError('ACCESS_DENIED', 'Access denied', 403)
  const authType = phpInt(p.AUTH_TYPE)
  // §6.1: issuing the handler's tokens for another user needs admin rights.
  if (authType !== 0 && authType !== ctx.userId && !user?.admin) {
    throw new RestError('ACCESS_DENIED', 'Access denied', 403)
  }
  const handler = phpString(p.HANDLER)
  if (!offline) {
    if (!handler) throw new RestError('ERROR_ARGUMENT', "Argument 'handler' is null or empty", 400)
    if (!validHandler(handler)) throw new RestError('ERROR_ARGUMENT', 'Wrong handler URL', 400)
  }
  const inst = ctx.installation!
  const dup = inst.handlers.some(
    (h) => h.event === event && h.handler === handler && h.authType === authType && h.offline === offline,
  )
  // §6.1 (observed): binding the same event+handler twice is an error.
  if (dup) throw new RestError('ERROR_CORE', 'Handler already binded', 400)
  inst.handlers.push({
    id: ctx.portal.next('handler'),
    event,
    handler,
    authType,
    offline,
    clientId: inst.clientId,
  })
  return true
}

function eventGet(ctx: CallContext): unknown {
  return ctx.installation!.handlers.map((h) => ({
    event: h.event,
    handler: h.handler,
    auth_type: String(h.authType),
    offline: h.offline ? 1 : 0,
  }))
}

function eventUnbind(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  const event = phpString(p.EVENT).toUpperCase()
  if (!event) throw new RestError('ERROR_ARGUMENT', "Argument 'event' is null or empty", 400)
  const handler = phpString(p.HANDLER)
  const offline = phpString(p.EVENT_TYPE).toLowerCase() === 'offline'
  const authType = p.AUTH_TYPE === undefined ? null : phpInt(p.AUTH_TYPE)
  const inst = ctx.installation!
  const keep = inst.handlers.filter(
    (h) =>
      !(
        h.event === event &&
        h.offline === offline &&
        (handler === '' || h.handler === handler) &&
        (authType === null || h.authType === authType)
      ),
  )
  const count = inst.handlers.length - keep.length
  inst.handlers = keep
  return { count }
}

function lineRow(ctx: CallContext, id: number): Record<string, unknown> {
  const line = ctx.portal.lines.get(id)!
  return {
    ID: String(line.id),
    LINE_NAME: line.name,
    ACTIVE: line.active ? 'Y' : 'N',
    FULL_CLOSE_TIME: String(line.fullCloseTime),
    DATE_CREATE: new Date(line.createdAt).toISOString(),
  }
}

/** §5.15: select/filter (equality)/order by one field/limit ≤ 200/offset. */
function configList(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  const params = isRecord(p.PARAMS) ? p.PARAMS : {}
  const select = listValues(params.select).map((s) => phpString(s).toUpperCase())
  const filter = isRecord(params.filter) ? params.filter : {}
  const order = isRecord(params.order) ? Object.entries(params.order)[0] : undefined
  const limit = Math.min(200, Math.max(1, phpInt(params.limit) || 200))
  const offset = Math.max(0, phpInt(params.offset))
  let rows = [...ctx.portal.lines.keys()].map((id) => lineRow(ctx, id))
  rows = rows.filter((row) =>
    Object.entries(filter).every(([k, v]) => phpString(row[k.toUpperCase()]) === phpString(v)),
  )
  if (order) {
    const [field, dir] = order
    const f = field.toUpperCase()
    const sign = phpString(dir).toUpperCase() === 'DESC' ? -1 : 1
    rows.sort((a, b) => {
      const x = phpString(a[f])
      const y = phpString(b[f])
      const nx = Number(x)
      const ny = Number(y)
      const cmp = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny
      return cmp * sign
    })
  }
  rows = rows.slice(offset, offset + limit)
  if (select.length === 0 || select.includes('*')) return rows
  return rows.map((row) => Object.fromEntries(select.filter((s) => s in row).map((s) => [s, row[s]])))
}

function configAdd(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  const params = isRecord(p.PARAMS) ? upperKeys(p.PARAMS) : {}
  const id = ctx.portal.next('line')
  const name = phpString(params.LINE_NAME) || `Open Line ${id}`
  ctx.portal.lines.set(id, {
    id,
    name,
    active: phpString(params.ACTIVE || 'Y') !== 'N',
    fullCloseTime: phpInt(params.FULL_CLOSE_TIME) || 10,
    createdAt: Date.now(),
  })
  return id
}

export const appMethods: MethodTable = {
  'app.info': { fn: appInfo, appOnly: 'access-denied' },
  'user.admin': { fn: (ctx) => ctx.portal.users.get(ctx.userId)?.admin ?? false },
  'event.bind': { fn: eventBind, appOnly: 'wrong-auth-type' },
  'event.get': { fn: eventGet, appOnly: 'wrong-auth-type' },
  'event.unbind': { fn: eventUnbind, appOnly: 'wrong-auth-type' },
  'imopenlines.config.list.get': { fn: configList, scope: ['imopenlines'] },
  'imopenlines.config.add': { fn: configAdd, scope: ['imopenlines'] },
}
