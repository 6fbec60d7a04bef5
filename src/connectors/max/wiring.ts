/**
 * @module The MAX connector and its webhook endpoint built from the configuration and the process's
 * storage: the `max_updates` repository as the webhook store, one LISTEN on `olchat_max_updates` shared by
 * every account of the process (a stored row wakes its owner wherever the webhook landed), the extra CA
 * bundle read once, and the counters.
 */
import { readFileSync } from 'node:fs'
import { rootCertificates } from 'node:tls'
import type { Hono } from 'hono'
import type { Registry } from 'prom-client'
import type { Database } from '../../../storage/db.ts'
import { createNotifier, type Notifier } from '../../../storage/notify.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { MAX_UPDATES_CHANNEL } from '../../../storage/repos/max-updates.ts'
import type { Config } from '../../config/load.ts'
import { createMaxWebhookRoutes } from '../../http/max-webhook.ts'
import type { Logger } from '../../log/logger.ts'
import { MaxConnector } from './connector.ts'
import { maxMetrics, skipReason } from './metrics.ts'
import type { WakeSubscribe } from './webhook-feed.ts'

export interface MaxServices {
  db: Pick<Database, 'sql' | 'kind'>
  repos: Pick<Repositories, 'accounts' | 'accountSessions' | 'maxUpdates'>
  registry: Registry
  log: Logger
  /** Where MAX reaches this installation (webhook mode). */
  publicUrl: string
}

/** Handled rows stay as dedup keys past MAX's retry window (8 h) and the events' lifetime (24 h, §2.4). */
const KEEP_HANDLED_MS = 48 * 3600_000

export function createMaxConnector(config: Pick<Config, 'max'>, services: MaxServices): MaxConnector {
  const metrics = maxMetrics(services.registry)
  const log = services.log.child({ component: 'max' })
  const notifier = createNotifier(services.db)
  return new MaxConnector({
    apiUrl: config.max.apiUrl,
    ...(config.max.caFile ? { ca: readFileSync(config.max.caFile, 'utf8'), rootCertificates } : {}),
    mode: config.max.mode,
    webhook: {
      publicUrl: services.publicUrl.replace(/\/+$/, ''),
      store: {
        pending: (accountId, afterId, limit) => services.repos.maxUpdates.pending(accountId, afterId, limit),
        markHandled: async (ids) => void (await services.repos.maxUpdates.markHandled(ids)),
        deleteAll: async (accountId) => void (await services.repos.maxUpdates.deleteAll(accountId)),
        deleteHandledBefore: async (accountId, before) =>
          void (await services.repos.maxUpdates.deleteHandledBefore(accountId, before)),
      },
      subscribe: wakeHub(notifier, log),
      drainIntervalMs: 5_000,
      keepHandledMs: KEEP_HANDLED_MS,
      checkIntervalMs: 10 * 60_000,
    },
    onSkipped: (reason) => metrics.skipped.inc({ reason: skipReason(reason) }),
    log,
  })
}

export function createMaxWebhook(services: MaxServices): Hono {
  const notifier = createNotifier(services.db)
  const log = services.log.child({ component: 'max-webhook' })
  return createMaxWebhookRoutes({
    repos: services.repos,
    metrics: maxMetrics(services.registry),
    log,
    onStored: (accountId) =>
      void notifier.publish(MAX_UPDATES_CHANNEL, accountId).catch((error: unknown) => {
        log.warn(
          { err: error, accountId },
          'max webhook: wake-up not sent (the owner polls the table anyway)',
        )
      }),
  })
}

/** One subscription to the channel for the whole process, fanned out by account id. */
function wakeHub(notifier: Notifier, log: Logger): WakeSubscribe {
  const byAccount = new Map<string, Set<() => void>>()
  let listening = false
  const wakeAll = () => {
    for (const wakes of byAccount.values()) for (const wake of wakes) wake()
  }
  return (accountId, wake) => {
    if (!listening) {
      listening = true
      void notifier
        .subscribe(
          MAX_UPDATES_CHANNEL,
          (payload) => {
            for (const fn of byAccount.get(payload) ?? []) fn()
          },
          {
            // Wake-ups sent while the listener was away are lost: every owner looks once more.
            onListen: wakeAll,
            onError: (error) => log.warn({ err: error }, 'max: wake-up handler failed'),
          },
        )
        .catch((error: unknown) => {
          listening = false
          log.warn({ err: error }, 'max: could not listen for webhook wake-ups (the timer drains anyway)')
        })
    }
    const wakes = byAccount.get(accountId) ?? new Set()
    byAccount.set(accountId, wakes)
    wakes.add(wake)
    return () => {
      wakes.delete(wake)
      if (wakes.size === 0) byAccount.delete(accountId)
    }
  }
}
