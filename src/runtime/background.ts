/**
 * @module The long-running work of one process beside the HTTP server: the lease keeper (which accounts run
 * here), the actor system (supervisor, one account actor each, with its relay, and the retention actor), the
 * Bitrix24 inbox worker and the portal sender, and the wake-ups between processes (LISTEN/NOTIFY, in-process
 * when embedded).
 *
 * Start: sender → supervisor → keeper; the keeper's `onAcquired` loads the account and sends `account.start`,
 * `onLost` sends `account.release` and waits for the client's connection to close. A new login of an account
 * run here (announced by whichever process stored it) does both in turn under the same lease, so a fresh
 * actor and client read the new session. Stop: the keeper first (every account released, its connection
 * closed, then its lease freed at once), then the supervisor, the workers, the subscriptions; the caller
 * closes the pools afterwards.
 */
import type { ActorRefFrom } from 'xstate'
import type { accountMachine } from '../../actors/account-machine.ts'
import { accountActorId } from '../../actors/supervisor-machine.ts'
import { startSupervisor, stopSupervisor } from '../../actors/system.ts'
import {
  ACCOUNT_DISCONNECT_CHANNEL,
  ACCOUNT_RELOGIN_CHANNEL,
  ACCOUNT_WORK_CHANNEL,
  createNotifier,
  LEASES_RELEASED_CHANNEL,
  type Subscription,
} from '../../storage/notify.ts'
import { newInstanceId } from '../../storage/repos/account-leases.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { createAccountControl } from '../accounts/account-control.ts'
import { AccountRuntime } from '../accounts/account-runtime.ts'
import type { ConnectorRegistry } from '../accounts/connectors.ts'
import { createAccountMetrics, HealthWriter } from '../accounts/health-writer.ts'
import type { BitrixAppDeps } from '../bitrix/app/index.ts'
import { startInboxWorker } from '../bitrix/app/index.ts'
import { createPortalSenderMetrics } from '../bitrix/portal-sender/metrics.ts'
import { PortalSender } from '../bitrix/portal-sender/portal-sender.ts'
import type { AccountControl } from '../http/admin/deps.ts'
import type { Logger } from '../log/logger.ts'
import type { Metrics } from '../metrics.ts'
import type { RetentionPeriods } from '../retention/periods.ts'
import { Retention } from '../retention/retention.ts'
import { LeaseKeeper, type LeaseKeeperOptions, type LostReason } from './lease-keeper.ts'
import type { Services } from './services.ts'

type AccountActor = ActorRefFrom<typeof accountMachine>

/** How often the process looks for operator → customer work that no wake-up announced. */
const DUE_POLL_MS = 5_000
/** How often it looks for new logins of its accounts that no wake-up announced. */
const RELOGIN_POLL_MS = 30_000

export interface Background {
  readonly instanceId: string
  /** Starts and disconnects accounts wherever they run (the admin API's port). */
  readonly accountControl: AccountControl
  /** Wakes the inbox worker after an event was stored by this process. */
  wakeInbox(): void
  /** Work for an account was committed: wake its owner, wherever it runs. */
  accountWork(accountId: string): void
  stop(): Promise<void>
}

export function startBackground({
  services,
  repos,
  bitrix,
  log,
  metrics,
  fileUrlTtlSeconds,
  connectors,
  leases,
  retentionPeriods,
  instanceId = newInstanceId(),
  reloginPollMs = RELOGIN_POLL_MS,
}: {
  services: Services
  repos: Repositories
  bitrix: BitrixAppDeps
  log: Logger
  metrics: Metrics
  fileUrlTtlSeconds: number
  connectors: ConnectorRegistry
  leases?: LeaseKeeperOptions
  /** Days per retention rule (config `RETENTION_*_DAYS`); the defaults of PRIVACY.md when absent. */
  retentionPeriods?: RetentionPeriods
  /** This process's id; give the same one to the repositories (`deliveries.claimer`). */
  instanceId?: string
  /** How often to look for new logins no wake-up announced (tests shorten it). @default 30 s */
  reloginPollMs?: number
}): Background {
  const notifier = createNotifier(services.db)
  const accountLog = log.child({ component: 'accounts' })
  const publish = (channel: string, payload?: string) =>
    void notifier.publish(channel, payload).catch((error: unknown) => {
      log.warn({ err: error, channel }, 'wake-up not sent (the poll catches up)')
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

  // The keeper is built below; the runtime's callbacks only run after that.
  let keeper: LeaseKeeper | undefined
  const health = new HealthWriter(repos.accounts, createAccountMetrics(metrics.registry))
  const runtime = new AccountRuntime({
    sql: services.db.sql,
    repos,
    files: services.files,
    cache: services.cache,
    connectors,
    health,
    log: accountLog,
    // One process-wide poll (below) replaces a timer per account.
    relayOptions: { pollIntervalMs: 0 },
    notifySender: (accountId) => sender.notify(accountId),
    sendToActor: (accountId, event) =>
      supervisor.getSnapshot().children[accountActorId(accountId)]?.send(event),
    onDisconnected: (accountId) => {
      keeper
        ?.release([accountId])
        .then(() => publish(LEASES_RELEASED_CHANNEL))
        .catch((error: unknown) => accountLog.warn({ err: error, accountId }, 'lease release failed'))
    },
  })
  const retentionLog = log.child({ component: 'retention' })
  const retention = new Retention({
    sql: services.db.sql,
    repos,
    files: services.files,
    cache: services.cache,
    periods: retentionPeriods,
    fileTtlMs: fileUrlTtlSeconds * 1000,
    // R5 of the audit log belongs to its module, which keeps the chain's anchor.
    purgeAuditLog: (cutoff) => repos.auditLog.purgeOlderThan(cutoff),
    log: retentionLog,
  })
  const supervisor = startSupervisor({
    retention: {
      sweepDue: () => retention.runDue(),
      onError: (error) => retentionLog.error({ err: error }, 'retention round failed; retried'),
    },
    partitions: {
      ensurePartitions: () => repos.messages.ensurePartitionsAround(new Date()),
      onError: (error) => log.error({ err: error }, 'message partition maintenance failed'),
    },
    accounts: {
      createInput: (start) => runtime.createInput(start),
      onCrash: (accountId, error, restartInMs) => {
        runtime.crashed(accountId)
        accountLog.error({ err: error, accountId, restartInMs }, 'account actor crashed')
      },
    },
  })

  async function acquired(accountId: string, fencingToken: string): Promise<void> {
    let start: Awaited<ReturnType<AccountRuntime['prepare']>>
    try {
      start = await runtime.prepare(accountId, fencingToken)
    } catch (error) {
      // Let it go: the next round (here or elsewhere) tries again.
      accountLog.warn({ err: error, accountId }, 'account could not be loaded')
      runtime.detach(accountId)
      await keeper?.release([accountId]).catch(() => {})
      return
    }
    if (!start) {
      accountLog.info({ accountId }, 'no connector for this account here: lease held, account not started')
      return
    }
    // Lost while loading: a newer holder (or none) decides.
    if (keeper?.fencingToken(accountId) !== fencingToken) {
      runtime.detach(accountId)
      return
    }
    supervisor.send({ type: 'account.start', ...start })
    accountLog.info({ accountId }, 'account started')
  }

  async function lost(accountId: string, reason: LostReason | 'relogin'): Promise<void> {
    // Synchronously first, so an acquisition that follows at once is not undone by this release.
    // Taken by another instance: drop at once. Otherwise the relay may finish what it holds (bounded, well
    // inside the keeper's safety margin).
    const { client, stopped } = runtime.detach(accountId, { settleMs: reason === 'taken' ? 0 : 2_000 })
    supervisor.send({ type: 'account.release', accountId: accountId as never })
    await stopped
    // Stopping the actor closes the connection; wait until it is closed before the lease can go.
    await client?.disconnect()
    accountLog.info({ accountId, reason }, 'account released')
  }

  keeper = new LeaseKeeper({
    repo: repos.accountLeases,
    instanceId,
    options: leases,
    onAcquired: (accountId, fencingToken) => void acquired(accountId, fencingToken),
    onLost: (accountId, reason) => lost(accountId, reason),
    onError: (error) => accountLog.warn({ err: error }, 'lease keeper'),
  })
  const leaseKeeper = keeper

  /** The owner of an account (if it is this process) disconnects it for good: logout, cleanup, release. */
  const disconnectIfOwned = (accountId: string) => {
    if (!leaseKeeper.heldAccounts().includes(accountId)) return
    supervisor.send({ type: 'account.stop', accountId: accountId as never })
  }

  /** Restarts of one account run one after another (each reads the session stored by then). */
  const restarts = new Map<string, Promise<void>>()
  /** A new login of an account: if this process runs it, a fresh actor and client read the new session. */
  const reloginIfOwned = (accountId: string) => {
    if (leaseKeeper.fencingToken(accountId) === null) return
    const next = (restarts.get(accountId) ?? Promise.resolve())
      .then(() => restartHere(accountId))
      .catch((error: unknown) =>
        accountLog.warn({ err: error, accountId }, 'restart after a new login failed'),
      )
    restarts.set(accountId, next)
    void next.finally(() => {
      if (restarts.get(accountId) === next) restarts.delete(accountId)
    })
  }
  /** Stop and start again under the same lease; the old client may keep the old session in memory. */
  async function restartHere(accountId: string): Promise<void> {
    const token = leaseKeeper.fencingToken(accountId)
    if (token === null) return
    await lost(accountId, 'relogin')
    // Lost meanwhile: whoever takes it next starts from the stored session anyway.
    if (leaseKeeper.fencingToken(accountId) !== token) return
    await acquired(accountId, token)
    accountLog.info({ accountId }, 'account restarted after a new login')
  }
  const waitsForLogin = (accountId: string) => {
    const actor = supervisor.getSnapshot().children[accountActorId(accountId)] as AccountActor | undefined
    return actor?.getSnapshot().matches({ active: { connection: 'needsLogin' } }) === true
  }
  /**
   * What a lost wake-up left behind (not listening at that moment): accounts run here whose actor still waits
   * for a login while their row has a new one (`connecting`). Read after this process's own health writes
   * have landed, so a `needs_login` on its way to the row is not taken for a new login.
   */
  async function catchUpRelogins(): Promise<void> {
    const waiting = leaseKeeper.heldAccounts().filter((id) => !restarts.has(id) && waitsForLogin(id))
    if (waiting.length === 0) return
    await health.flushed()
    for (const accountId of waiting) {
      const account = await repos.accounts.get(accountId).catch(() => undefined)
      if (account?.health === 'connecting' && waitsForLogin(accountId)) reloginIfOwned(accountId)
    }
  }
  const catchUp = () =>
    void catchUpRelogins().catch((error: unknown) =>
      accountLog.warn({ err: error }, 're-login catch-up failed'),
    )

  const accountControl = createAccountControl({
    repos,
    runtime,
    log: accountLog,
    startHere: () => leaseKeeper.wake(),
    announceStart: () => publish(LEASES_RELEASED_CHANNEL),
    disconnectHere: disconnectIfOwned,
    announceDisconnect: (accountId) => publish(ACCOUNT_DISCONNECT_CHANNEL, accountId),
    reloginHere: reloginIfOwned,
    announceRelogin: (accountId) => publish(ACCOUNT_RELOGIN_CHANNEL, `${accountId} ${instanceId}`),
  })

  const listen = (channel: string, fn: (payload: string) => void, onListen?: () => void) =>
    notifier
      .subscribe(channel, fn, {
        onError: (error) => log.warn({ err: error, channel }, 'wake-up handler failed'),
        ...(onListen ? { onListen } : {}),
      })
      .catch((error: unknown) => {
        log.warn({ err: error, channel }, 'not listening for wake-ups (polls only)')
        return undefined
      })
  const subscriptions: Array<Promise<Subscription | undefined>> = [
    listen(ACCOUNT_WORK_CHANNEL, (accountId) => runtime.wake(accountId)),
    listen(LEASES_RELEASED_CHANNEL, () => leaseKeeper.wake()),
    listen(ACCOUNT_DISCONNECT_CHANNEL, (accountId) => disconnectIfOwned(accountId)),
    // Its own announcements were acted on when sent. (Re)listening catches up on what went unheard.
    listen(
      ACCOUNT_RELOGIN_CHANNEL,
      (payload) => {
        const [accountId, from] = payload.split(' ')
        if (accountId && from !== instanceId) reloginIfOwned(accountId)
      },
      catchUp,
    ),
  ]
  leaseKeeper.start()
  log.info({ instanceId, connectors: [...connectors.keys()] }, 'accounts: lease keeper started')

  // Wake-ups carry the normal path; this finds what a lost wake-up left behind, for all accounts in one query.
  const duePoll = setInterval(() => {
    runtime.wakeDue().catch((error: unknown) => accountLog.warn({ err: error }, 'due-work poll failed'))
  }, DUE_POLL_MS)
  duePoll.unref?.()
  const reloginPoll = setInterval(catchUp, reloginPollMs)
  reloginPoll.unref?.()

  return {
    instanceId,
    accountControl,
    wakeInbox: () => inbox.wake(),
    accountWork: (accountId) => {
      runtime.wake(accountId)
      publish(ACCOUNT_WORK_CHANNEL, accountId)
    },
    async stop() {
      clearInterval(duePoll)
      clearInterval(reloginPoll)
      // Accounts first: connections closed, then leases freed so another instance takes them at once.
      await leaseKeeper.stop()
      await notifier.publish(LEASES_RELEASED_CHANNEL).catch(() => {})
      await stopSupervisor(supervisor)
      await runtime.stopAll()
      // Workers next (each finishes the call in flight), then the wake-up listeners.
      await Promise.all([inbox.stop(), sender.stop()])
      for (const subscription of await Promise.all(subscriptions)) await subscription?.unsubscribe()
    },
  }
}
