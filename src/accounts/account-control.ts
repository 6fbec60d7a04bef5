/**
 * @module The admin API's `AccountControl`, across processes. The database is the record, notifications only
 * wake: starting an account = its lease row is free, so any instance's lease keeper takes it (woken at once);
 * disconnecting = the owner's actor logs out, cleans up and ends `disconnected`. When no instance owns the
 * account (not running anywhere, or the owner died), this process marks it `disconnected` — so no instance takes it
 * again — and runs the same cleanup itself (R1, R2, D2). A re-login (new session stored, health `connecting`)
 * = the owner, if any, restarts the account's actor so a fresh client reads the new session (one built
 * before may hold the old one in memory); an account nobody owns (it was disconnected) has a free lease
 * that is no longer left alone, so any keeper takes it.
 */
import type { Repositories } from '../../storage/repos/index.ts'
import type { AccountControl } from '../http/admin/deps.ts'
import type { Logger } from '../log/logger.ts'
import type { AccountRuntime } from './account-runtime.ts'

export interface AccountControlDeps {
  repos: Pick<Repositories, 'accounts' | 'accountLeases'>
  runtime: Pick<AccountRuntime, 'cleanup'>
  log: Logger
  startHere(): void
  announceStart(): void
  disconnectHere(accountId: string): void
  announceDisconnect(accountId: string): void
  /** If this process runs the account, restart its actor over the stored session. */
  reloginHere(accountId: string): void
  /** Tell the other processes; the one running the account restarts it. */
  announceRelogin(accountId: string): void
  /** How long the owner gets to disconnect before this process does the cleanup itself. @default 20 s */
  ownerTimeoutMs?: number
  pollMs?: number
}

export function createAccountControl(deps: AccountControlDeps): AccountControl {
  const { repos, log, ownerTimeoutMs = 20_000, pollMs = 200 } = deps

  const disconnected = async (accountId: string) =>
    (await repos.accounts.get(accountId)).health === 'disconnected'

  return {
    async start() {
      deps.startHere()
      deps.announceStart()
    },

    async relogin(accountId) {
      deps.reloginHere(accountId)
      deps.announceRelogin(accountId)
      // Nobody runs it (it was disconnected, or its owner is gone): its free lease is taken at once.
      deps.startHere()
      deps.announceStart()
    },

    async stop(accountId) {
      if (await disconnected(accountId)) return
      deps.disconnectHere(accountId)
      deps.announceDisconnect(accountId)
      const deadline = Date.now() + ownerTimeoutMs
      while (Date.now() < deadline) {
        if (await disconnected(accountId)) return
        // Nobody holds a live lease: nobody will act on the request.
        if ((await repos.accountLeases.owner(accountId)) === null) break
        await Bun.sleep(pollMs)
      }
      // No live owner (or it did not answer in time): stop anyone from taking it, then clean up here.
      await repos.accounts.setHealth(accountId, 'disconnected')
      const account = await repos.accounts.get(accountId)
      await deps.runtime.cleanup(account)
      log.info({ accountId }, 'account disconnected without a running owner: cleaned up here')
    },
  }
}
