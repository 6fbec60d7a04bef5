/**
 * @module Logging an existing account in again (`POST /accounts/:id/login`): when its session was revoked
 * (`needs_login`) or after a disconnect, the same account row — its Open Line, chats and message history —
 * gets a new session instead of a new account being made. Here: which accounts may, what completing such a
 * login stores (one transaction, the row locked), and how a refused one is undone.
 *
 * Only an account without a live session logs in again: the new session replaces the account's at its next
 * start, and two clients of one account must never run, so an account that is online, connecting or being
 * disconnected is refused — disconnect it first. (A login itself runs on a session of its own; Telegram's is
 * staged in memory and imported by the account's client when it next connects.)
 */
import type { Context } from 'hono'
import { type Account, type AccountHealth, AccountNotFoundError } from '../../../storage/repos/accounts.ts'
import { toAccountId } from '../../bridge/ids.ts'
import type { LoginResult } from '../../bridge/login.ts'
import { audit } from './audit.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, notFound } from './errors.ts'
import type { PendingLogin } from './login-registry.ts'

/** Healths without a live session: the only ones a new login may replace. */
export const RELOGIN_HEALTH: readonly AccountHealth[] = ['needs_login', 'disconnected']

/** How long a refused login's remote logout may take before the answer goes out anyway. */
const LOGOUT_TIMEOUT_MS = 15_000

/** @throws ApiError 404 */
export async function accountOr404(deps: AdminDeps, id: string): Promise<Account> {
  try {
    return await deps.repos.accounts.get(id)
  } catch (error) {
    if (error instanceof AccountNotFoundError) throw notFound('account')
    throw error
  }
}

/** @throws ApiError 409 `account_active` when the account still has (or is losing) a live session. */
export function assertCanRelogin(health: AccountHealth): void {
  if (RELOGIN_HEALTH.includes(health)) return
  throw new ApiError(
    409,
    'account_active',
    `The account is ${health}: only an account that needs a login or is disconnected can log in again`,
    { health },
  )
}

/**
 * Stores a completed re-login in one transaction: the account must still exist in the login's portal,
 * still lack a live session, and — if it knows its messenger id — be the same person or bot (another
 * one's login would pour its chats into this account's line: 409 `different_account`, nothing stored).
 * Then the session rows are replaced, the profile and sealed credentials updated, health `connecting`.
 * @throws ApiError 404, 409
 */
export async function storeRelogin(
  deps: AdminDeps,
  c: Context<AdminEnv>,
  login: PendingLogin,
  result: LoginResult,
): Promise<Account> {
  const { accounts, accountSessions } = deps.repos
  const id = login.accountId
  return deps.sql.begin(async (tx) => {
    // Locked: a disconnect or another re-login of the account waits for this one.
    const [row] = await tx<{ portalId: string; remoteId: string | null; health: AccountHealth }[]>`
      select portal_id, remote_id, health from accounts where id = ${id} for update`
    if (!row || row.portalId !== login.portalId) throw notFound('account')
    assertCanRelogin(row.health)
    if (row.remoteId !== null && row.remoteId !== result.remoteId) {
      throw new ApiError(
        409,
        'different_account',
        'This login is of another account than the one connected before; connect it as a new account',
      )
    }
    await accountSessions.deleteAll(id, tx)
    for (const [key, value] of login.session.entries()) await accountSessions.set(id, key, value, tx)
    await accounts.updateProfile(
      id,
      {
        remoteId: result.remoteId,
        displayName: result.displayName ?? null,
        username: result.username ?? null,
        phone: result.phone ?? null,
      },
      tx,
    )
    await accounts.setCredentials(id, result.credentials ?? null, tx)
    const account = await accounts.setHealth(id, 'connecting', tx)
    const details = { messenger: login.messenger, flow: login.flow, loginId: login.id, previous: row.health }
    await audit(
      deps,
      c,
      { action: 'account.relogin', portalId: login.portalId, target: `account:${id}`, details },
      tx,
    )
    return account
  })
}

/**
 * A refused login must not leave someone's authorization with us: it is logged out at the messenger through a
 * client over the login's own session (for Telegram the staged copy; the account's own rows are not touched).
 * A login that only handed over a credential (a MAX bot token) opened no session, and that client's logout
 * would also drop updates the account's own bot left queued: nothing to undo there.
 * @returns whether it was logged out.
 */
export async function logOutRefused(
  deps: AdminDeps,
  login: PendingLogin,
  result: LoginResult,
): Promise<boolean> {
  const connector = deps.connectors.get(login.messenger)
  if (result.credentials !== undefined || !connector) return false
  const client = connector.loadAccount({
    id: toAccountId(login.accountId),
    remoteId: result.remoteId,
    credentials: null,
    session: login.session,
  })
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('remote logout timed out')), LOGOUT_TIMEOUT_MS)
  })
  try {
    await Promise.race([client.logoutRemote(), timeout])
    return true
  } catch (error) {
    deps.log.warn({ err: error, accountId: login.accountId }, 'admin API: a refused login was not logged out')
    return false
  } finally {
    clearTimeout(timer)
    await client.disconnect().catch(() => {})
  }
}
