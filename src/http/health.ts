/**
 * @module Liveness and readiness. `/healthz` answers while the process runs; `/readyz` checks every
 * dependency (database, cache, files) in parallel, each with its own timeout, and names the one that fails.
 */
import { Hono } from 'hono'
import type { Metrics } from '../metrics.ts'

export interface ReadinessCheck {
  name: string
  run(): Promise<void>
}

export interface HealthOptions {
  checks: ReadinessCheck[]
  metrics: Metrics
  /** True once shutdown began: the instance must leave the load balancer before it stops. */
  isDraining: () => boolean
  timeoutMs?: number
}

interface CheckResult {
  ok: boolean
  ms: number
  error?: string
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now()
  let timer: Timer | undefined
  try {
    await Promise.race([
      check.run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
    return { ok: true, ms: Math.round(performance.now() - started) }
  } catch (error) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (error as Error).message }
  } finally {
    clearTimeout(timer)
  }
}

export function createHealthRoutes({ checks, metrics, isDraining, timeoutMs = 2000 }: HealthOptions): Hono {
  const app = new Hono()
  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    const results = await Promise.all(checks.map((check) => runCheck(check, timeoutMs)))
    const byName: Record<string, CheckResult> = {}
    checks.forEach((check, i) => {
      const result = results[i]!
      byName[check.name] = result
      metrics.readiness.set({ check: check.name }, result.ok ? 1 : 0)
    })
    const failing = checks.filter((_, i) => !results[i]!.ok).map((check) => check.name)
    if (isDraining()) return c.json({ status: 'draining', checks: byName }, 503)
    if (failing.length > 0) return c.json({ status: 'unavailable', failing, checks: byName }, 503)
    return c.json({ status: 'ready', checks: byName })
  })
  return app
}
