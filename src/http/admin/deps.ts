/**
 * @module What the admin API needs from the composition root, and the `AccountControl` port through which
 * it starts and stops account actors (the runtime provides the real one).
 */
import type { Sql } from '../../../storage/db.ts'
import type { DeliveryDirection } from '../../../storage/repos/deliveries.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import type { ConnectorName, MessengerConnector } from '../../bridge/connector.ts'
import type { Logger } from '../../log/logger.ts'
import type { RoleTable } from './permissions.ts'
import type { Principal } from './tokens.ts'

/** Starts and stops the actor of an account, wherever this process or another one runs it. */
export interface AccountControl {
  /** The account row and its session are stored: run it (claim its lease, spawn its actor). */
  start(accountId: string): Promise<void>
  /**
   * Disconnect for good: stop the actor, clean up (session, contact cache — R1/R2) and leave the account
   * `disconnected`, so no instance picks it up again.
   */
  stop(accountId: string): Promise<void>
}

export interface AdminOptions {
  /** How long an unfinished login lives without a step. @default 10 minutes */
  loginTtlMs?: number
  /** Role → permissions (tests add roles). @default ROLE_PERMISSIONS */
  roles?: RoleTable
  /** Largest accepted request body. @default 64 KiB */
  maxBodyBytes?: number
}

export interface AdminDeps {
  sql: Sql
  repos: Pick<Repositories, 'portals' | 'lines' | 'accounts' | 'accountSessions' | 'auditLog'>
  /** Derives the key of the portal reference in audit entries (`portalRef`, D5). */
  keys: { deriveKey(purpose: string): Buffer }
  /** The connectors this process can log in with (the runtime's connector registry). */
  connectors: ReadonlyMap<ConnectorName, MessengerConnector>
  accountControl: AccountControl
  /** A dead letter is queued again: wake whoever drains that queue (optional; they also poll). */
  onDeadLetterRetried?(delivery: { id: string; accountId: string; direction: DeliveryDirection }): void
  log: Logger
  options?: AdminOptions
}

export interface AdminEnv {
  Variables: { principal: Principal }
}
