/**
 * Composition root: config → logger → HTTP listener (answers /healthz at once, /readyz = 503 "starting") →
 * storage services → migrations → background work (lease keeper, actors, Bitrix24 inbox, portal sender) → full
 * application. SIGTERM/SIGINT: stop accepting, release the accounts (connections closed, leases freed), stop the
 * workers, close the pools; exit within 10 s.
 */
import { Hono } from 'hono'
import { DataDirInUseError } from '../storage/data-dir-lock.ts'
import { LocalFileStore } from '../storage/files/local-file-store.ts'
import { migrate } from '../storage/migrate.ts'
import { newInstanceId } from '../storage/repos/account-leases.ts'
import { createRepositories } from '../storage/repos/index.ts'
import { createConnectorRegistry } from './accounts/connectors.ts'
import { type BitrixAppDeps, createBitrixRoutes } from './bitrix/app/index.ts'
import { callWithToken, createBitrixClient } from './bitrix/client/index.ts'
import { registerPortalStatusGauge } from './bitrix/portal-status-metric.ts'
import { loadConfigOrExit } from './config/load.ts'
import { createMaxWebhook } from './connectors/max/wiring.ts'
import { createAdminRoutes, ensureAdminToken } from './http/admin/index.ts'
import { createApp } from './http/app.ts'
import { createFileRoutes } from './http/files-route.ts'
import { listenOptions } from './http/serve-options.ts'
import { createLogger } from './log/logger.ts'
import { createMetrics } from './metrics.ts'
import { privacyFacts } from './privacy/privacy-page-facts.ts'
import { createPrivacyPageRoutes } from './privacy/privacy-page-routes.ts'
import { type Background, startBackground } from './runtime/background.ts'
import { claimDataDir, openServices, publicUrlOf, type Services } from './runtime/services.ts'
import { forgiveStraySocketErrors } from './runtime/stray-socket-errors.ts'
import { version } from './version.ts'

const SHUTDOWN_DEADLINE_MS = 10_000

const config = loadConfigOrExit()

const log = createLogger({ level: config.logLevel, base: { version } })
forgiveStraySocketErrors(log)
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
let background: Background | undefined

// Until storage is ready the listener answers health probes only, so orchestrators see a live, unready pod.
const starting = new Hono()
starting.get('/healthz', (c) => c.json({ status: 'ok' }))
starting.all('*', (c) => c.json({ status: 'starting' }, 503))
let current: Hono = starting

const server = Bun.serve({
  ...listenOptions(config),
  fetch: (request, srv) => current.fetch(request, { server: srv }),
  // Large file downloads stream; do not cut slow clients off at Bun's 10 s default.
  idleTimeout: 120,
})
const publicUrl = publicUrlOf(config, server.port)
log.info({ port: server.port, host: config.host, tls: config.https !== undefined, publicUrl }, 'listening')

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
    await background?.stop()
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
  // One id for this process start: leases and queue claims name it, so both die with the process.
  const instanceId = newInstanceId()
  const repos = createRepositories(db.sql, services.keys, { deliveries: { claimer: instanceId } })
  registerPortalStatusGauge(metrics.registry, db.sql)
  const bitrix: BitrixAppDeps = {
    sql: db.sql,
    repos,
    inbox: repos.inboundEvents,
    api: createBitrixClient({
      config,
      portals: repos.portals,
      cache,
      logger: log.child({ component: 'bitrix-client' }),
      registry: metrics.registry,
    }),
    callWithToken,
    keys: services.keys,
    cache,
    files,
    log: log.child({ component: 'bitrix' }),
    config: {
      publicUrl,
      allowHttpPortals: config.bitrix.allowHttpPortals,
      clientId: config.bitrix.app?.clientId,
    },
    options: { sandboxConnector: config.sandboxUrl !== undefined },
    onEventStored: () => background?.wakeInbox(),
    onDeliveriesQueued: (accountId) => background?.accountWork(accountId),
  }
  const maxServices = { db, repos, registry: metrics.registry, log, publicUrl }
  const connectors = createConnectorRegistry(config, { max: maxServices, telegram: { repos, log } })
  background = startBackground({
    services,
    repos,
    bitrix,
    log,
    metrics,
    fileUrlTtlSeconds: config.fileUrlTtlSeconds,
    connectors,
    retentionPeriods: config.retention,
    instanceId,
    leases: config.maxAccounts === undefined ? undefined : { capacity: config.maxAccounts },
  })
  await ensureAdminToken(db.sql, config.adminToken)
  const running = background
  const admin = createAdminRoutes({
    sql: db.sql,
    repos,
    keys: services.keys,
    connectors,
    accountControl: running.accountControl,
    // Bitrix24 users get sessions after their portal confirmed them (POST /api/v1/session/bitrix).
    bitrix: { callWithToken, allowHttpPortals: config.bitrix.allowHttpPortals },
    // Access exports (D1) read the cache and the object store too, and date items by the periods in force.
    privacy: { cache, files, keys: services.keys, repos, periods: config.retention },
    // Operator → customer work wakes its owner at once; the portal sender polls every 2 s anyway.
    onDeadLetterRetried: ({ accountId }) => running.accountWork(accountId),
    log: log.child({ component: 'admin-api' }),
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
    routes: [
      createBitrixRoutes(bitrix),
      createMaxWebhook(maxServices),
      admin,
      createPrivacyPageRoutes(privacyFacts(config)),
      ...(files instanceof LocalFileStore ? [createFileRoutes(files)] : []),
    ],
  })
  log.info(
    { database: db.kind, cache: config.cache.kind, files: files.kind, dataDir: config.dataDir },
    'ready',
  )
} catch (error) {
  log.fatal({ err: error }, 'start-up failed')
  await server.stop(true)
  await background?.stop()
  await services?.close()
  releaseDataDir()
  process.exit(1)
}
