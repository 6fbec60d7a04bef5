/**
 * @module What the admin API needs from the composition root, and the `AccountControl` port through which
 * it starts, restarts after a new login, and stops account actors (the runtime provides the real one).
 */
import type { Sql } from '../../../storage/db.ts'
import type { DeliveryDirection } from '../../../storage/repos/deliveries.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import type { CallWithToken } from '../../bitrix/app/deps.ts'
import type { ConnectorName, MessengerConnector } from '../../bridge/connector.ts'
import type { Logger } from '../../log/logger.ts'
import type { Principal } from '../auth/principal.ts'
import type { AccessExportServices } from './access-requests.ts'
import type { RoleTable } from './permissions.ts'

/** Starts and stops the actor of an account, wherever this process or another one runs it. */
export interface AccountControl {
  /** The account row and its session are stored: run it (claim its lease, spawn its actor). */
  start(accountId: string): Promise<void>
  /**
   * Disconnect for good: stop the actor, clean up (session, contact cache — R1/R2) and leave the account
   * `disconnected`, so no instance picks it up again.
   */
  stop(accountId: string): Promise<void>
  /**
   * A new login of an existing account is stored (health `connecting`): whoever runs it starts its actor
   * afresh over the new session; when nobody does (it was disconnected), any instance takes it.
   */
  relogin(accountId: string): Promise<void>
}

export interface AdminOptions {
  /** How long an unfinished login lives without a step. @default 10 minutes */
  loginTtlMs?: number
  /** Role → permissions (tests add roles). @default ROLE_PERMISSIONS */
  roles?: RoleTable
  /** Largest accepted request body. @default 64 KiB */
  maxBodyBytes?: number
  /** Lifetime of a Bitrix24 user's session (`POST /session/bitrix`). @default 15 minutes */
  sessionTtlMs?: number
}

export interface AdminDeps {
  sql: Sql
  repos: Pick<Repositories, 'portals' | 'lines' | 'accounts' | 'accountSessions' | 'auditLog'>
  /** Derives the keys of the portal reference in audit entries (`portalRef`, D5) and of session tokens. */
  keys: { deriveKey(purpose: string): Buffer }
  /**
   * How Bitrix24 users are checked with their portal (`POST /session/bitrix`); without it that route
   * answers 503. `callWithToken` comes from the REST client.
   */
  bitrix?: { callWithToken: CallWithToken; allowHttpPortals: boolean }
  /** What access exports (D1, `/access-requests`) read besides the database; without it they answer 503. */
  privacy?: AccessExportServices
  /** The connectors this process can log in with (the runtime's connector registry). */
  connectors: ReadonlyMap<ConnectorName, MessengerConnector>
  accountControl: AccountControl
  /** A dead letter is queued again: wake whoever drains that queue (optional; they also poll). */
  onDeadLetterRetried?(delivery: { id: string; accountId: string; direction: DeliveryDirection }): void
  log: Logger
  /** The clock of session expiry. @default () => new Date() */
  now?: () => Date
  options?: AdminOptions
}

export interface AdminEnv {
  Variables: {
    principal: Principal
    /** Set by `checkScope`: the handler of a portal-scoped route compared the resource's portal. */
    portalChecked: boolean
  }
}
