/** @module Prometheus metrics: one registry per process (not prom-client's global), served at `/metrics`. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export interface Metrics {
  registry: Registry
  httpRequests: Counter<'method' | 'route' | 'status'>
  httpDuration: Histogram<'method' | 'route'>
  readiness: Gauge<'check'>
}

export function createMetrics(version: string): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'olchat_' })
  new Gauge({
    name: 'olchat_build_info',
    help: 'Olchat version and runtime (always 1)',
    labelNames: ['version', 'runtime'],
    registers: [registry],
  }).set({ version, runtime: `bun ${Bun.version}` }, 1)
  return {
    registry,
    httpRequests: new Counter({
      name: 'olchat_http_requests_total',
      help: 'HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'olchat_http_request_duration_seconds',
      help: 'HTTP request handling time, by route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    readiness: new Gauge({
      name: 'olchat_dependency_up',
      help: 'Whether a dependency answered the last readiness check (1) or not (0)',
      labelNames: ['check'],
      registers: [registry],
    }),
  }
}
