/**
 * @module The long-running work of one process beside the HTTP server: the actor system (supervisor), the
 * Bitrix24 inbox worker and the portal sender. Started after migrations, stopped before the pools close, in
 * the order that lets in-flight work finish.
 */
import { startSupervisor, stopSupervisor } from '../../actors/system.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import type { BitrixAppDeps } from '../bitrix/app/index.ts'
import { startInboxWorker } from '../bitrix/app/index.ts'
import { createPortalSenderMetrics } from '../bitrix/portal-sender/metrics.ts'
import { PortalSender } from '../bitrix/portal-sender/portal-sender.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Services } from './services.ts'

export interface Background {
  /** Wakes the inbox worker after an event was stored by this process. */
  wakeInbox(): void
  stop(): Promise<void>
}

export function startBackground({
  services,
  repos,
  bitrix,
  log,
  metrics,
  fileUrlTtlSeconds,
}: {
  services: Services
  repos: Repositories
  bitrix: BitrixAppDeps
  log: Logger
  metrics: Metrics
  fileUrlTtlSeconds: number
}): Background {
  const supervisor = startSupervisor({
    partitions: {
      ensurePartitions: () => repos.messages.ensurePartitionsAround(new Date()),
      onError: (error) => log.error({ err: error }, 'message partition maintenance failed'),
    },
  })
  const inbox = startInboxWorker(bitrix)
  const sender = new PortalSender({
    sql: services.db.sql,
    repos,
    api: bitrix.api,
    files: services.files,
    log: log.child({ component: 'portal-sender' }),
    metrics: createPortalSenderMetrics(metrics.registry),
    options: { fileUrlTtlSeconds },
  })
  sender.start()
  return {
    wakeInbox: () => inbox.wake(),
    async stop() {
      // Workers first (each finishes the call in flight), then the actors.
      await Promise.all([inbox.stop(), sender.stop()])
      await stopSupervisor(supervisor)
    },
  }
}
