/**
 * @module What the account actors of this process need beside the machine: the stored account turned into
 * a live client (`prepare` → `createInput`), the account's `RelayService` fed by the actor's remote events,
 * and the cleanup of a disconnect (R1, R2, D2).
 *
 * Relays live in a registry per account rather than inside the machine: a relay starts draining once the
 * account is first online, and stops when the account is released (lease lost, shutdown), crashes (the
 * restart builds a new one), starts disconnecting, or is disconnected. The contact sync (`contact-sync.ts`)
 * follows the same health: it refreshes when the account is online, pauses otherwise, stops with the relay.
 */
import type { AccountEvent, AccountMachineInput } from '../../actors/account-machine.ts'
import type { AccountStart } from '../../actors/supervisor-machine.ts'
import type { Cache } from '../../storage/cache/cache.ts'
import type { Sql } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import { type Account, AccountNotFoundError } from '../../storage/repos/accounts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import type { MessengerClient } from '../bridge/client.ts'
import { toAccountId, toRemoteUserId } from '../bridge/ids.ts'
import type { Logger } from '../log/logger.ts'
import type { Fence } from '../relay/fence.ts'
import { RelayService, type RelayServiceOptions } from '../relay/relay-service.ts'
import type { ConnectorRegistry } from './connectors.ts'
import { type ContactSyncOptions, ContactSyncSchedule, syncAccountContacts } from './contact-sync.ts'
import type { HealthWriter } from './health-writer.ts'
import { accountSessionStore } from './session-store.ts'

export interface AccountRuntimeDeps {
  sql: Sql
  repos: Repositories
  files: FileStore
  cache: Cache
  connectors: ConnectorRegistry
  health: HealthWriter
  log: Logger
  /** Wakes the portal sender (the relay queued something for the portal). */
  notifySender(accountId: string): void
  /** Sends an event to the account's actor (the relay met a flood wait or a lost login). */
  sendToActor(accountId: string, event: AccountEvent): void
  /** The account reached `disconnected`: nothing runs it any more, its lease can go. */
  onDisconnected(accountId: string): void
  relayOptions?: Partial<RelayServiceOptions>
  /** Contact refresh timing (every 6 h by default). */
  contactSync?: Partial<ContactSyncOptions>
}

interface Live {
  account: Account
  /** The lease token this process holds the account with; every relay write checks it. */
  fencingToken?: string
  client?: MessengerClient
  relay?: RelayService
  /** The relay drains only once the client is online. */
  draining: boolean
  /** Refreshes the contact cache through whichever client is current (one per live account). */
  contacts?: ContactSyncSchedule
}

/** What an account leaves behind on disconnect: object keys and cache keys are prefixed by the owner. */
export const accountObjectPrefix = (portalId: string, accountId: string) => `p/${portalId}/a/${accountId}/`
export const accountCachePrefix = (portalId: string, accountId: string) => `p:${portalId}:a:${accountId}:`

function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    void promise
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer)
        resolve()
      })
  })
}

export class AccountRuntime {
  readonly #live = new Map<string, Live>()

  constructor(private readonly deps: AccountRuntimeDeps) {}

  /**
   * Reads the account before its actor starts (`createInput` must not do I/O).
   * @returns what `account.start` carries, or undefined when no connector here can run the account.
   */
  async prepare(accountId: string, fencingToken?: string): Promise<AccountStart | undefined> {
    const account = await this.deps.repos.accounts.get(accountId)
    if (!this.deps.connectors.has(account.messenger)) return undefined
    this.#live.set(accountId, { account, draining: false, fencingToken })
    return {
      accountId: toAccountId(accountId),
      login: {
        id: toAccountId(accountId),
        remoteId: account.remoteId === null ? null : toRemoteUserId(account.remoteId),
        credentials: account.credentials,
        session: accountSessionStore(this.deps.repos.accountSessions, accountId),
      },
    }
  }

  /** The supervisor's `createInput`: a fresh client and relay per actor (first start and every restart). */
  createInput(start: AccountStart): AccountMachineInput {
    const live = this.#live.get(start.accountId)
    const connector = live && this.deps.connectors.get(live.account.messenger)
    if (!live || !connector || !start.login) throw new Error(`account ${start.accountId} was not prepared`)
    void this.#stopRelay(live)
    const { accountId } = start
    const log = this.deps.log.child({ accountId })
    const client = connector.loadAccount(start.login)
    const relay = new RelayService({
      sql: this.deps.sql,
      repos: this.deps.repos,
      files: this.deps.files,
      client,
      account: live.account,
      notifySender: this.deps.notifySender,
      fence: fenceOf(this.deps.repos, accountId, live.fencingToken),
      log,
      hooks: {
        onFloodWait: (seconds) =>
          this.deps.sendToActor(accountId, {
            type: 'client.connection',
            state: 'flood-wait',
            floodWaitSeconds: seconds,
          }),
        onNeedsLogin: (error) =>
          this.deps.sendToActor(accountId, { type: 'client.connection', state: 'bad-credentials', error }),
      },
      options: { ...this.deps.relayOptions, subscribe: false },
    })
    live.client = client
    live.relay = relay
    live.draining = false
    live.contacts ??= this.#contactSync(live, log)
    return {
      accountId,
      client,
      hooks: {
        setHealth: (change) => {
          const written = this.deps.health.write(change)
          // A stale actor's late report must not touch the relay of its successor.
          if (live.client === client) this.#onHealth(live, change.health)
          return written.then(() => {
            if (change.health === 'disconnected') this.deps.onDisconnected(accountId)
          })
        },
        onAlert: (alert) => {
          this.deps.health.alert(alert)
          log.warn({ alert: alert.type, downSince: new Date(alert.downSince) }, 'account alert')
        },
        onRemoteEvent: (event) => relay.push(event),
        cleanup: () => this.cleanup(live.account),
        onError: (error, during) => log.warn({ err: error, during }, 'account actor hook failed'),
      },
    }
  }

  /** Work for the account was queued (by this or another process): drain now if it runs here. */
  wake(accountId: string): void {
    const live = this.#live.get(accountId)
    if (live?.draining) live.relay?.wake()
  }

  /**
   * The safety net behind the wake-ups, for every account of the process at once: one query finds the
   * accounts with due operator → customer rows and wakes those that run here. A poll per account would
   * cost 10,000 idle accounts a query each per interval. @returns how many relays were woken.
   */
  async wakeDue(limit = 1000): Promise<number> {
    if (this.#live.size === 0) return 0
    const due = await this.deps.repos.deliveries.listDueAccounts('to_messenger', limit)
    let woken = 0
    for (const accountId of due) {
      const live = this.#live.get(accountId)
      if (!live?.draining || !live.relay) continue
      live.relay.wake()
      woken++
    }
    return woken
  }

  /**
   * The account no longer runs here: forgets it and stops its relay (the item in flight finishes).
   * @returns the client to wait for (its connection is closed by stopping the actor).
   */
  detach(accountId: string, { settleMs = 0 } = {}): { client?: MessengerClient; stopped: Promise<void> } {
    const live = this.#live.get(accountId)
    this.#live.delete(accountId)
    this.deps.health.forget(accountId)
    if (!live) return { stopped: Promise.resolve() }
    const relay = live.relay
    // Not waited for: the connection must close within the lease's margin, and closing it ends the
    // refresh's calls; its writes are fenced, so a late one cannot land once the lease is gone.
    void live.contacts?.stop()
    // Events the relay holds in memory are not acked, so the next owner gets them again; a moment to
    // commit them first spares it the repeats.
    const settled = relay && settleMs > 0 ? within(relay.idle(), settleMs) : Promise.resolve()
    return { client: live.client, stopped: settled.then(() => this.#stopRelay(live)) }
  }

  /** The actor crashed: its relay goes now, the restart builds a new one. */
  crashed(accountId: string): void {
    const live = this.#live.get(accountId)
    live?.contacts?.pause()
    if (live) void this.#stopRelay(live)
  }

  /**
   * Deletes the session, the login and profile, the contact cache, stored files and cache keys of the account
   * (R1, R2, D2).
   */
  async cleanup(account: Pick<Account, 'id' | 'portalId'>): Promise<void> {
    const { repos, files, cache } = this.deps
    // A refresh writing contacts back after they were cleared would break R2.
    await this.#live.get(account.id)?.contacts?.stop()
    await repos.accountSessions.deleteAll(account.id)
    await repos.telegramSessions.deleteAccount(account.id)
    await repos.maxUpdates.deleteAll(account.id)
    await repos.accounts.forgetLogin(account.id).catch((error: unknown) => {
      if (!(error instanceof AccountNotFoundError)) throw error
    })
    await repos.contacts.deleteAll(account.id)
    await files.deleteByPrefix(accountObjectPrefix(account.portalId, account.id))
    await cache.deleteByPrefix(accountCachePrefix(account.portalId, account.id))
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#live.keys()].map((id) => this.detach(id).stopped))
  }

  #onHealth(live: Live, health: string): void {
    if (health === 'online') {
      // Reconnected: what queued meanwhile goes now rather than at the next poll.
      live.draining = true
      live.relay?.start()
      live.relay?.wake()
      live.contacts?.online()
    } else if (health === 'disconnecting' || health === 'disconnected') {
      void live.contacts?.stop()
      void this.#stopRelay(live)
      if (health === 'disconnected') {
        this.#live.delete(live.account.id)
        this.deps.health.forget(live.account.id)
      }
    } else {
      live.contacts?.pause()
    }
  }

  /** I2/R6: the contact refresh of a live account, over its current client, fenced like the relay. */
  #contactSync(live: Live, log: Logger): ContactSyncSchedule {
    const { sql, repos, files } = this.deps
    const fence = fenceOf(repos, live.account.id, live.fencingToken)
    const maxAvatarBytes = this.deps.contactSync?.maxAvatarBytes
    const deps = { sql, repos, files, log, fence, ...(maxAvatarBytes ? { maxAvatarBytes } : {}) }
    return new ContactSyncSchedule(
      async (signal) => {
        if (!live.client) return
        await syncAccountContacts(deps, live.account, live.client, signal)
      },
      { options: this.deps.contactSync, log },
    )
  }

  #stopRelay(live: Live): Promise<void> {
    const relay = live.relay
    live.draining = false
    if (!relay) return Promise.resolve()
    live.relay = undefined
    return relay.stop().catch((error: unknown) => {
      this.deps.log.warn({ err: error, accountId: live.account.id }, 'relay stop failed')
    })
  }
}

function fenceOf(repos: Repositories, accountId: string, token: string | undefined): Fence | undefined {
  if (token === undefined) return undefined
  return (tx) => repos.accountLeases.assertFence(accountId, token, tx)
}
