/**
 * @module `GET /privacy` (Russian) and `GET /privacy?lang=en`: the privacy page of this installation,
 * rendered once at start from the policy and the configuration (both fixed for the life of the process).
 * Public: it is the promise made to everyone whose data passes through Olchat.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { renderPrivacyPage } from './privacy-page.ts'
import type { PrivacyFacts } from './privacy-page-facts.ts'

const Query = v.object({ lang: v.optional(v.picklist(['ru', 'en'], 'lang must be ru or en'), 'ru') })

export function createPrivacyPageRoutes(facts: PrivacyFacts): Hono {
  const pages = { ru: renderPrivacyPage(facts, 'ru'), en: renderPrivacyPage(facts, 'en') }
  return new Hono().get('/privacy', (c) => {
    const query = v.safeParse(Query, { lang: c.req.query('lang') || undefined })
    if (!query.success) return c.json({ error: 'invalid_request', message: query.issues[0].message }, 400)
    const { lang } = query.output
    c.header('Content-Language', lang)
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
    c.header('X-Content-Type-Options', 'nosniff')
    return c.html(pages[lang])
  })
}
