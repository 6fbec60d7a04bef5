/**
 * @module The admin API's `AccountControl`, across processes. The database is the record, notifications only
 * wake: starting an account = its lease row is free, so any instance's lease keeper takes it (woken at once);
 * disconnecting = the owner's actor logs out, cleans up and ends `disconnected`. When no instance owns the
 * account (not running anywhere, or the owner died), this process marks it `disconnected` — so no instance takes it
 * again — and runs the same cleanup itself (R1, R2, D2).
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
