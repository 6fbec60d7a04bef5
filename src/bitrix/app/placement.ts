/**
 * @module `POST /bitrix/placement`: the `SETTING_CONNECTOR` page (reference/bitrix24.md §7) Bitrix24 opens in
 * an iframe when an admin connects an Olchat connector to an Open Line.
 *
 * The portal's POST is checked once: the portal is known by `member_id`, its `APPLICATION_TOKEN` matches when
 * sent, and the posted `AUTH_ID` belongs to a portal admin — asked of the portal at its *stored* address
 * (`user.admin`), so a forged POST can neither fake the answer nor change anything (403). The page then works
 * with a signed session token in its forms (`session.ts`); clicks do not cost the portal's rate budget.
 * Bind: the line row, the account's binding, then `imconnector.activate` and `connector.data.set` (§5.4,
 * §5.6). Unbind: the binding is removed and the line deactivated (the portal answers with
 * ONIMCONNECTORSTATUSDELETE). Employee: the Bitrix24 user the account owner's own messages are shown as,
 * typed as a number — the app has no scope to list the portal's users (`user` would force every portal to
 * reinstall), so there is no picker.
 */
import type { Context } from 'hono'
import * as v from 'valibot'
import type { Account } from '../../../storage/repos/accounts.ts'
import { NotFoundError } from '../../../storage/repos/common.ts'
import type { Portal } from '../../../storage/repos/portals.ts'
import { relaysOwnMessages } from '../../relay/own-messages.ts'
import { type ConnectorDefinition, connectorById } from '../connectors.ts'
import type { BitrixAppDeps } from './deps.ts'
import { FormError, isFormContentType, parseForm } from './form.ts'
import { errorPage, type Lang, langOf, placementPage } from './pages.ts'
import { describeIssues, placementActionSchema, placementBodySchema } from './schemas.ts'
import { keyedHash, portalRef, sameSecret } from './security.ts'
import { openSession, type PlacementSession, signSession } from './session.ts'

const TITLE = { ru: 'Настройка Olchat', en: 'Olchat settings' }
const FORBIDDEN = {
  ru: 'Нет доступа. Откройте настройки коннектора из Контакт-центра Битрикс24 как администратор.',
  en: 'Access denied. Open the connector settings from the Bitrix24 Contact Center as an administrator.',
}
const EXPIRED = {
  ru: 'Сеанс настройки истёк или недействителен. Откройте настройки коннектора заново.',
  en: 'The settings session expired or is invalid. Open the connector settings again.',
}

type Status = 400 | 403 | 404 | 415

function refuse(c: Context, lang: Lang, status: Status, message: { ru: string; en: string }) {
  return c.html(errorPage(lang, TITLE, message), status)
}

const badRequest = (reason: string) => ({ ru: `Неверный запрос: ${reason}`, en: `Bad request: ${reason}` })

async function isAdmin(deps: BitrixAppDeps, portal: Portal, accessToken: string): Promise<boolean> {
  try {
    const answer = await deps.callWithToken({
      clientEndpoint: portal.clientEndpoint ?? `https://${portal.domain}/rest/`,
      accessToken,
      method: 'user.admin',
      allowHttp: deps.config.allowHttpPortals,
    })
    return answer === true
  } catch (error) {
    deps.log.warn({ err: error, portalId: portal.id }, 'placement: the portal did not confirm AUTH_ID')
    return false
  }
}

function channelUrl(deps: BitrixAppDeps, account: Account): string {
  if (!account.username) return deps.config.publicUrl
  const user = encodeURIComponent(account.username)
  return account.messenger === 'telegram' ? `https://t.me/${user}` : `https://max.ru/${user}`
}

async function render(
  c: Context,
  deps: BitrixAppDeps,
  session: PlacementSession,
  token: string,
  connector: ConnectorDefinition,
  notice?: { ok: boolean; text: string },
) {
  const accounts = (await deps.repos.accounts.listByPortal(session.portalId)).filter(
    (account) => account.messenger === connector.messenger,
  )
  const line = await deps.repos.lines.find(session.portalId, connector.id, session.lineId)
  return c.html(
    placementPage({
      lang: session.lang,
      connectorName: connector.name,
      lineId: session.lineId,
      accounts,
      lineRowId: line?.id ?? null,
      ownMessages: relaysOwnMessages(connector.messenger),
      session: token,
      actionUrl: `${deps.config.publicUrl}/bitrix/placement`,
      notice,
    }),
  )
}

async function openPage(c: Context, deps: BitrixAppDeps, form: Record<string, unknown>, lang: Lang) {
  const now = deps.now ?? (() => new Date())
  const parsed = v.safeParse(placementBodySchema, form)
  if (!parsed.success) return refuse(c, lang, 400, badRequest(describeIssues(parsed.issues)))
  const { AUTH_ID, APPLICATION_TOKEN, member_id, PLACEMENT_OPTIONS } = parsed.output
  const connector = connectorById(PLACEMENT_OPTIONS.CONNECTOR)
  if (!connector)
    return refuse(c, lang, 400, badRequest('PLACEMENT_OPTIONS.CONNECTOR: not an Olchat connector'))
  const portal = await deps.repos.portals.findByMemberId(member_id)
  if (
    !portal ||
    portal.status === 'uninstalled' ||
    (APPLICATION_TOKEN !== undefined && !sameSecret(portal.applicationToken, APPLICATION_TOKEN)) ||
    !(await isAdmin(deps, portal, AUTH_ID))
  ) {
    deps.log.warn({ memberId: member_id }, 'placement refused')
    return refuse(c, lang, 403, FORBIDDEN)
  }
  const session: PlacementSession = {
    portalId: portal.id,
    connectorId: connector.id,
    lineId: PLACEMENT_OPTIONS.LINE,
    user: keyedHash(deps.keys, 'bitrix placement user v1', AUTH_ID).slice(0, 16),
    lang,
    exp: now().getTime() + (deps.options?.placementSessionMs ?? 30 * 60_000),
  }
  return render(c, deps, session, signSession(deps.keys, session), connector)
}

/** Calls the portal after the change is saved. @returns false when the portal did not confirm it */
async function confirm(deps: BitrixAppDeps, portalId: string, calls: () => Promise<void>): Promise<boolean> {
  try {
    await calls()
    return true
  } catch (error) {
    deps.log.warn({ err: error, portalId }, 'placement: portal call failed')
    return false
  }
}

async function bind(deps: BitrixAppDeps, portal: Portal, session: PlacementSession, account: Account) {
  const connectorId = session.connectorId
  const previous =
    account.lineId === null ? undefined : await deps.repos.lines.get(account.lineId).catch(() => undefined)
  await deps.sql.begin(async (tx) => {
    const line = await deps.repos.lines.upsert(
      { portalId: portal.id, connectorId, lineId: session.lineId },
      tx,
    )
    // One account per line: whoever served this line before is unbound.
    for (const other of await deps.repos.accounts.listByPortal(portal.id, tx)) {
      if (other.lineId === line.id && other.id !== account.id)
        await deps.repos.accounts.bindLine(other.id, null, tx)
    }
    await deps.repos.accounts.bindLine(account.id, line.id, tx)
    await deps.repos.auditLog.append(
      {
        portalRef: portalRef(deps.keys, portal.memberId),
        actor: `bitrix24-admin:${session.user}`,
        actorRole: 'portal-admin',
        action: 'connector.line.bound',
        target: `${connectorId}:${session.lineId}`,
        details: { accountId: account.id },
      },
      tx,
    )
  })
  const line = Number(session.lineId)
  const url = channelUrl(deps, account)
  return confirm(deps, portal.id, async () => {
    const activate = { CONNECTOR: connectorId, LINE: line, ACTIVE: 1 }
    await deps.api.call(portal.id, 'imconnector.activate', activate, { idempotent: true })
    await deps.api.call(
      portal.id,
      'imconnector.connector.data.set',
      {
        CONNECTOR: connectorId,
        LINE: line,
        DATA: {
          ID: `${connectorId}_line${session.lineId}`,
          URL: url,
          URL_IM: url,
          NAME: account.displayName ?? account.username ?? connectorById(connectorId)!.name,
        },
      },
      { idempotent: true },
    )
    // The account moved from another line of this connector: that line has nobody to serve it now.
    if (previous && previous.connectorId === connectorId && previous.lineId !== session.lineId) {
      await deps.api.call(
        portal.id,
        'imconnector.activate',
        { CONNECTOR: connectorId, LINE: Number(previous.lineId), ACTIVE: 0 },
        { idempotent: true },
      )
    }
  })
}

async function unbind(deps: BitrixAppDeps, portal: Portal, session: PlacementSession, account: Account) {
  const line = await deps.repos.lines.find(portal.id, session.connectorId, session.lineId)
  await deps.sql.begin(async (tx) => {
    if (line && account.lineId === line.id) await deps.repos.accounts.bindLine(account.id, null, tx)
    await deps.repos.auditLog.append(
      {
        portalRef: portalRef(deps.keys, portal.memberId),
        actor: `bitrix24-admin:${session.user}`,
        actorRole: 'portal-admin',
        action: 'connector.line.unbound',
        target: `${session.connectorId}:${session.lineId}`,
        details: { accountId: account.id },
      },
      tx,
    )
  })
  return confirm(deps, portal.id, async () => {
    await deps.api.call(
      portal.id,
      'imconnector.activate',
      { CONNECTOR: session.connectorId, LINE: Number(session.lineId), ACTIVE: 0 },
      { idempotent: true },
    )
  })
}

/** Saves the employee (null clears it); nothing to tell the portal. */
async function setEmployee(
  deps: BitrixAppDeps,
  portal: Portal,
  session: PlacementSession,
  account: Account,
  employeeId: string | null,
) {
  await deps.sql.begin(async (tx) => {
    await deps.repos.accounts.setEmployee(account.id, employeeId, tx)
    await deps.repos.auditLog.append(
      {
        portalRef: portalRef(deps.keys, portal.memberId),
        actor: `bitrix24-admin:${session.user}`,
        actorRole: 'portal-admin',
        action: employeeId === null ? 'account.employee_cleared' : 'account.employee_set',
        target: `account:${account.id}`,
        details: { employeeId, previousEmployeeId: account.employeeId },
      },
      tx,
    )
  })
  return true
}

const DONE = {
  bind: { ru: 'Аккаунт подключён к линии.', en: 'The account now serves this line.' },
  unbind: { ru: 'Аккаунт отключён от линии.', en: 'The account no longer serves this line.' },
  employee: { ru: 'Сотрудник сохранён.', en: 'The employee is saved.' },
}
const PORTAL_FAILED = {
  ru: 'Сохранено, но Битрикс24 не подтвердил изменение. Повторите действие.',
  en: 'Saved, but Bitrix24 did not confirm the change. Please repeat the action.',
}

async function act(c: Context, deps: BitrixAppDeps, form: Record<string, unknown>, lang: Lang) {
  const now = deps.now ?? (() => new Date())
  const parsed = v.safeParse(placementActionSchema, form)
  if (!parsed.success) return refuse(c, lang, 400, badRequest(describeIssues(parsed.issues)))
  const { session: token, action, account: accountId, employee } = parsed.output
  const session = openSession(deps.keys, token, now())
  if (!session) return refuse(c, lang, 403, EXPIRED)
  const connector = connectorById(session.connectorId)
  const portal = await deps.repos.portals.get(session.portalId).catch((error) => {
    if (error instanceof NotFoundError) return undefined
    throw error
  })
  if (!connector || !portal || portal.status === 'uninstalled') return refuse(c, session.lang, 403, FORBIDDEN)
  const account = await deps.repos.accounts.get(accountId).catch((error) => {
    if (error instanceof NotFoundError) return undefined
    throw error
  })
  if (!account || account.portalId !== portal.id || account.messenger !== connector.messenger) {
    return refuse(c, session.lang, 404, { ru: 'Аккаунт не найден.', en: 'No such account.' })
  }
  if (action === 'employee' && !relaysOwnMessages(account.messenger)) {
    return refuse(c, session.lang, 400, badRequest('this account has no owner writing from a phone'))
  }
  const confirmed =
    action === 'employee'
      ? await setEmployee(deps, portal, session, account, employee || null)
      : await (action === 'bind' ? bind : unbind)(deps, portal, session, account)
  const notice = { ok: confirmed, text: (confirmed ? DONE[action] : PORTAL_FAILED)[session.lang] }
  return render(c, deps, session, token, connector, notice)
}

export function placementHandler(deps: BitrixAppDeps) {
  return async function placement(c: Context) {
    const lang = langOf(c.req.query('LANG'))
    if (!isFormContentType(c.req.header('content-type'))) {
      return refuse(c, lang, 415, badRequest('a form post was expected'))
    }
    let form: Record<string, unknown>
    try {
      form = parseForm(await c.req.text())
    } catch (error) {
      if (!(error instanceof FormError)) throw error
      return refuse(c, lang, 400, badRequest(error.message))
    }
    // Clicks on the page carry the session; the portal's own POST carries AUTH_ID.
    return 'session' in form ? act(c, deps, form, lang) : openPage(c, deps, form, lang)
  }
}
