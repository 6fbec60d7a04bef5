import { describe, expect, test } from 'bun:test'
import { Writable } from 'node:stream'
import { Hono } from 'hono'
import { createApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/log/logger.ts'
import { createMetrics } from '../../src/metrics.ts'

function build({ failing = [] as string[], draining = false, hang = false } = {}) {
  const logged: string[] = []
  const log = createLogger({
    destination: new Writable({
      write(chunk, _e, done) {
        logged.push(chunk.toString())
        done()
      },
    }),
  })
  const boom = new Hono().get('/boom', () => {
    throw new Error('secret detail +79123456789')
  })
  const check = (name: string) => ({
    name,
    run: async () => {
      if (hang && name === 'files') await new Promise(() => {})
      if (failing.includes(name)) throw new Error(`${name} refused the connection`)
    },
  })
  const app = createApp({
    log,
    metrics: createMetrics('test'),
    checks: ['database', 'cache', 'files'].map(check),
    isDraining: () => draining,
    routes: [boom],
  })
  return { app, logged }
}

describe('HTTP basics', () => {
  test('/healthz answers while the process is up', async () => {
    const res = await build({ failing: ['database'] }).app.request('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  test('/readyz is 200 when every dependency answers', async () => {
    const res = await build().app.request('/readyz')
    expect(res.status).toBe(200)
    const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean }> }
    expect(body.status).toBe('ready')
    expect(Object.keys(body.checks).sort()).toEqual(['cache', 'database', 'files'])
    expect(Object.values(body.checks).every((c) => c.ok)).toBe(true)
  })

  test('/readyz is 503 and names the failing dependency', async () => {
    const res = await build({ failing: ['cache'] }).app.request('/readyz')
    expect(res.status).toBe(503)
    const body = (await res.json()) as { failing: string[]; checks: Record<string, { error?: string }> }
    expect(body.failing).toEqual(['cache'])
    expect(body.checks.cache?.error).toBe('cache refused the connection')
  })

  test('/readyz does not hang on a dependency that never answers', async () => {
    const started = performance.now()
    const res = await build({ hang: true }).app.request('/readyz')
    expect(res.status).toBe(503)
    expect(((await res.json()) as { failing: string[] }).failing).toEqual(['files'])
    expect(performance.now() - started).toBeLessThan(5000)
  })

  test('/readyz is 503 while draining', async () => {
    const res = await build({ draining: true }).app.request('/readyz')
    expect(res.status).toBe(503)
    expect(((await res.json()) as { status: string }).status).toBe('draining')
  })

  test('/metrics serves Prometheus text with request counts by route pattern', async () => {
    const { app } = build()
    await app.request('/healthz')
    await app.request('/no/such/path')
    const res = await app.request('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(text).toContain('olchat_http_requests_total{method="GET",route="/healthz",status="200"} 1')
    expect(text).toMatch(/olchat_http_requests_total\{method="GET",route="[^"]*",status="404"\} 1/)
    expect(text).toContain('olchat_build_info{version="test"')
    expect(text).toContain('olchat_process_cpu_seconds_total')
  })

  test('unknown routes get a JSON 404; failures a JSON 500 that leaks nothing', async () => {
    const { app, logged } = build()
    const missing = await app.request('/nope')
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: 'not_found' })
    const failed = await app.request('/boom')
    expect(failed.status).toBe(500)
    expect(await failed.text()).not.toContain('secret detail')
    const line = logged.join('')
    expect(line).toContain('request failed')
    expect(line).not.toContain('9123456789')
  })
})
