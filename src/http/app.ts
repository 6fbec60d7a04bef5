/**
 * @module The HTTP application: health, metrics, file downloads, and (in later work) the Bitrix24 handlers,
 * admin API and panel — each a sub-app mounted here. Errors become JSON; unexpected ones are logged, never
 * echoed (they may carry personal data).
 */
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { routePath } from 'hono/route'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics.ts'
import { createHealthRoutes, type ReadinessCheck } from './health.ts'

export interface AppDeps {
  log: Logger
  metrics: Metrics
  checks: ReadinessCheck[]
  isDraining: () => boolean
  /** Extra sub-apps mounted at the root (file downloads of the local store, …). */
  routes?: Hono[]
}

export function createApp({ log, metrics, checks, isDraining, routes = [] }: AppDeps): Hono {
  const app = new Hono()

  app.use(async function measureRequest(c, next) {
    const started = performance.now()
    await next()
    const route = routePath(c) || 'unmatched'
    const seconds = (performance.now() - started) / 1000
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) })
    metrics.httpDuration.observe({ method: c.req.method, route }, seconds)
  })

  app.route('/', createHealthRoutes({ checks, metrics, isDraining }))
  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType)
    return c.body(await metrics.registry.metrics())
  })
  for (const sub of routes) app.route('/', sub)

  app.notFound((c) => c.json({ error: 'not_found' }, 404))
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return c.json({ error: error.message || 'request_failed' }, error.status)
    }
    log.error({ err: error, route: routePath(c) }, 'request failed')
    return c.json({ error: 'internal_error' }, 500)
  })
  return app
}
