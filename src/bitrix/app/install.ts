/**
 * @module `POST /bitrix/install`: the install handler and app page (reference/bitrix24.md §2.2). Verifies the
 * posted tokens with the portal, stores the portal, registers the connectors and binds the events, then
 * answers a frameable page that calls `BX24.installFinish()`. If the set-up fails the page says so and does
 * not finish the install: reopening the app runs it again.
 */
import type { Context } from 'hono'
import * as v from 'valibot'
import type { BitrixAppDeps } from './deps.ts'
import { FormError, isFormContentType, parseForm } from './form.ts'
import { errorPage, installPage, type Lang, langOf } from './pages.ts'
import { describeIssues, installBodySchema, pageQuerySchema } from './schemas.ts'
import { EndpointError, oauthEndpoint, portalEndpoint, portalRef } from './security.ts'
import { setUpPortal } from './setup.ts'
import { acceptInstall, VerificationError } from './verify.ts'

const TITLE = { ru: 'Olchat не установлен', en: 'Olchat is not installed' }

function refuse(c: Context, lang: Lang, status: 400 | 403 | 415 | 502, ru: string, en: string) {
  return c.html(errorPage(lang, TITLE, { ru, en }), status)
}

export function installHandler(deps: BitrixAppDeps) {
  const now = deps.now ?? (() => new Date())
  return async function install(c: Context) {
    const lang = langOf(c.req.query('LANG'))
    if (!isFormContentType(c.req.header('content-type'))) {
      return refuse(c, lang, 415, 'Ожидалась форма Битрикс24.', 'A Bitrix24 form post was expected.')
    }
    let form: Record<string, unknown>
    try {
      form = parseForm(await c.req.text())
    } catch (error) {
      if (!(error instanceof FormError)) throw error
      return refuse(c, lang, 400, `Неверный запрос: ${error.message}`, `Bad request: ${error.message}`)
    }
    const query = v.safeParse(pageQuerySchema, c.req.query())
    const body = v.safeParse(installBodySchema, form)
    if (!query.success || !body.success) {
      const reason = describeIssues(query.success ? body.issues! : query.issues)
      return refuse(c, lang, 400, `Неверный запрос: ${reason}`, `Bad request: ${reason}`)
    }
    const { DOMAIN, PROTOCOL } = query.output
    const fields = body.output
    let clientEndpoint: string
    let serverEndpoint: string | null
    try {
      clientEndpoint = portalEndpoint({ domain: DOMAIN, protocol: PROTOCOL }, deps.config.allowHttpPortals)
      serverEndpoint = fields.SERVER_ENDPOINT
        ? oauthEndpoint(fields.SERVER_ENDPOINT, clientEndpoint, deps.config.allowHttpPortals)
        : null
    } catch (error) {
      if (!(error instanceof EndpointError)) throw error
      return refuse(
        c,
        lang,
        400,
        `Неверный адрес портала: ${error.message}`,
        `Bad portal address: ${error.message}`,
      )
    }
    let portalId: string
    try {
      const { portal, created } = await acceptInstall(deps, {
        memberId: fields.member_id,
        clientEndpoint,
        serverEndpoint,
        applicationToken: fields.APPLICATION_TOKEN,
        accessToken: fields.AUTH_ID,
        refreshToken: fields.REFRESH_ID,
        expiresAt: new Date(now().getTime() + Number(fields.AUTH_EXPIRES) * 1000),
      })
      portalId = portal.id
      if (created) {
        await deps.repos.auditLog.append({
          portalRef: portalRef(deps.keys, portal.memberId),
          actor: 'bitrix24',
          action: 'portal.installed',
          details: { via: 'install page' },
        })
      }
    } catch (error) {
      if (!(error instanceof VerificationError)) throw error
      deps.log.warn({ err: error, memberId: fields.member_id }, 'install refused: tokens not confirmed')
      return refuse(
        c,
        lang,
        403,
        'Портал не подтвердил данные установки.',
        'The portal did not confirm the install data.',
      )
    }
    try {
      const result = await setUpPortal(deps, portalId)
      deps.log.info({ portalId, ...result }, 'portal set up from the install page')
    } catch (error) {
      deps.log.error({ err: error, portalId }, 'install set-up failed')
      return refuse(
        c,
        lang,
        502,
        'Битрикс24 не принял настройку коннекторов. Откройте приложение ещё раз, чтобы повторить.',
        'Bitrix24 did not accept the connector set-up. Open the app again to retry.',
      )
    }
    return c.html(installPage(lang))
  }
}
