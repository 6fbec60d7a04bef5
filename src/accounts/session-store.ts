/**
 * @module The `SessionStore` a connector gets for one account: the sealed `account_sessions` rows (S4),
 * deleted as a whole when the account is disconnected (R1).
 */
import type { AccountSessionRepository } from '../../storage/repos/account-sessions.ts'
import type { SessionStore } from '../bridge/login.ts'

export function accountSessionStore(repo: AccountSessionRepository, accountId: string): SessionStore {
  return {
    get: (key) => repo.get(accountId, key),
    set: (key, value) => repo.set(accountId, key, value),
    delete: async (key) => void (await repo.delete(accountId, key)),
    clear: async () => void (await repo.deleteAll(accountId)),
  }
}
