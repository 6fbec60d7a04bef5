/**
 * @module Where account health goes: the `accounts.health` column (one write chain per account, so the
 * changes land in the order the actor made them), the `olchat_accounts{health}` gauge of the accounts this
 * process runs, and the alert counter.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { AccountAlert, HealthChange } from '../../actors/account-machine.ts'
import type { AccountRepository } from '../../storage/repos/accounts.ts'
import { ACCOUNT_HEALTH, type AccountHealth } from '../bridge/health.ts'

export interface AccountMetrics {
  accounts: Gauge<'health'>
  alerts: Counter<'type'>
}

export function createAccountMetrics(registry: Registry): AccountMetrics {
  const accounts = new Gauge({
    name: 'olchat_accounts',
    help: 'Messenger accounts run by this process, by health',
    labelNames: ['health'],
    registers: [registry],
  })
  for (const health of ACCOUNT_HEALTH) accounts.set({ health }, 0)
  const alerts = new Counter({
    name: 'olchat_account_alerts_total',
    help: 'Account alerts: raised (down past the debounce) and cleared',
    labelNames: ['type'],
    registers: [registry],
  })
  return { accounts, alerts }
}

export class HealthWriter {
  readonly #current = new Map<string, AccountHealth>()
  readonly #chains = new Map<string, Promise<void>>()

  constructor(
    private readonly repo: Pick<AccountRepository, 'setHealth'>,
    private readonly metrics: AccountMetrics,
  ) {}

  /** Counts the change at once and stores it after the account's earlier changes. */
  write(change: HealthChange): Promise<void> {
    this.#count(change.accountId, change.health)
    const previous = this.#chains.get(change.accountId) ?? Promise.resolve()
    // A failed write must not block the later ones; the caller reports it.
    const next = previous
      .catch(() => {})
      .then(async () => {
        await this.repo.setHealth(change.accountId, change.health)
      })
    this.#chains.set(change.accountId, next)
    void next
      .finally(() => {
        if (this.#chains.get(change.accountId) === next) this.#chains.delete(change.accountId)
      })
      .catch(() => {})
    return next
  }

  alert(alert: AccountAlert): void {
    this.metrics.alerts.inc({ type: alert.type })
  }

  /** The account no longer runs here (released, crashed): it leaves the gauge. */
  forget(accountId: string): void {
    this.#count(accountId, undefined)
  }

  /** Resolves when every write queued so far has been tried. */
  async flushed(): Promise<void> {
    await Promise.allSettled([...this.#chains.values()])
  }

  #count(accountId: string, health: AccountHealth | undefined): void {
    const before = this.#current.get(accountId)
    if (before === health) return
    if (before) this.metrics.accounts.dec({ health: before })
    if (health) {
      this.metrics.accounts.inc({ health })
      this.#current.set(accountId, health)
    } else {
      this.#current.delete(accountId)
    }
  }
}
