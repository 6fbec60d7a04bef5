/**
 * Composition root: config → logger → HTTP listener (answers /healthz at once, /readyz = 503 "starting") →
 * storage services → migrations → actor system → full application. SIGTERM/SIGINT drain and exit within 10 s.
 */
import { Hono } from 'hono'
import { type Supervisor, startSupervisor, stopSupervisor } from '../actors/system.ts'
import { DataDirInUseError } from '../storage/data-dir-lock.ts'
import { LocalFileStore } from '../storage/files/local-file-store.ts'
import { migrate } from '../storage/migrate.ts'
import { MessageRepository } from '../storage/repos/messages.ts'
import { type Config, ConfigError, loadConfig } from './config/load.ts'
import { createApp } from './http/app.ts'
import { createFileRoutes } from './http/files-route.ts'
import { createLogger } from './log/logger.ts'
import { createMetrics } from './metrics.ts'
import { claimDataDir, openServices, type Services } from './runtime/services.ts'
import { version } from './version.ts'

const SHUTDOWN_DEADLINE_MS = 10_000

let config: Config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`olchat: configuration error: ${error.message}`)
  process.exit(2)
}

const log = createLogger({ level: config.logLevel, base: { version } })
const metrics = createMetrics(version)

let releaseDataDir: () => void
try {
  releaseDataDir = claimDataDir(config)
} catch (error) {
  if (!(error instanceof DataDirInUseError)) throw error
  console.error(`olchat: ${error.message}`)
  process.exit(1)
}

let draining = false
let services: Services | undefined
let supervisor: Supervisor | undefined

// Until storage is ready the listener answers health probes only, so orchestrators see a live, unready pod.
const starting = new Hono()
starting.get('/healthz', (c) => c.json({ status: 'ok' }))
starting.all('*', (c) => c.json({ status: 'starting' }, 503))
let current: Hono = starting

const server = Bun.serve({
  port: config.port,
  hostname: config.host,
  fetch: (request, srv) => current.fetch(request, { server: srv }),
  // Large file downloads stream; do not cut slow clients off at Bun's 10 s default.
  idleTimeout: 120,
})
const publicUrl = config.publicUrl ?? `http://localhost:${server.port}`
log.info({ port: server.port, host: config.host, publicUrl }, 'listening')

async function shutdown(signal: string): Promise<void> {
  if (draining) return
  draining = true
  log.info({ signal }, 'shutting down: no new requests, draining in-flight work')
  const force = setTimeout(() => {
    log.error('shutdown took longer than 10 s: exiting anyway')
    process.exit(1)
  }, SHUTDOWN_DEADLINE_MS - 500)
  force.unref()
  try {
    // Stops accepting and resolves once in-flight requests have been answered.
    await server.stop()
    if (supervisor) await stopSupervisor(supervisor)
    await services?.close()
    releaseDataDir()
    log.info('stopped')
    process.exit(0)
  } catch (error) {
    log.error({ err: error }, 'shutdown failed')
    process.exit(1)
  }
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))

try {
  services = await openServices(config, log, { publicUrl })
  const { db, cache, files } = services
  const started = performance.now()
  const migrated = await migrate(db.sql)
  log.info(
    {
      database: db.kind,
      applied: migrated.applied,
      version: migrated.version,
      ms: Math.round(performance.now() - started),
    },
    migrated.applied.length > 0 ? 'migrations applied' : 'schema up to date',
  )
  const messages = new MessageRepository(db.sql)
  supervisor = startSupervisor({
    partitions: {
      ensurePartitions: () => messages.ensurePartitionsAround(new Date()),
      onError: (error) => log.error({ err: error }, 'message partition maintenance failed'),
    },
  })
  current = createApp({
    log,
    metrics,
    isDraining: () => draining,
    checks: [
      { name: 'database', run: async () => void (await db.sql`select 1`) },
      { name: 'cache', run: () => cache.ping() },
      { name: 'files', run: () => files.check() },
    ],
    routes: files instanceof LocalFileStore ? [createFileRoutes(files)] : [],
  })
  log.info(
    { database: db.kind, cache: config.cache.kind, files: files.kind, dataDir: config.dataDir },
    'ready',
  )
} catch (error) {
  log.fatal({ err: error }, 'start-up failed')
  await server.stop(true)
  await services?.close()
  releaseDataDir()
  process.exit(1)
}
