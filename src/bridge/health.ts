/**
 * @module The health vocabulary of an account (DESIGN "Shape: actors"), exactly the values of the
 * `accounts.health` column, and which changes between them the account actor may make. Shown to admins,
 * stored, exported as metrics.
 */

export const ACCOUNT_HEALTH = [
  'connecting',
  'online',
  'reconnecting',
  'needs_login',
  'flood_wait',
  'disconnecting',
  'disconnected',
] as const

export type AccountHealth = (typeof ACCOUNT_HEALTH)[number]

/**
 * Allowed changes, from → to. `connecting` is reachable from every live state because a restarted actor
 * starts there; `disconnecting` from every live state because an admin may disconnect at any time; the only
 * way out of `disconnecting` is `disconnected` (the cleanup of R1/R2/D2 has run).
 */
export const HEALTH_TRANSITIONS: Readonly<Record<AccountHealth, readonly AccountHealth[]>> = {
  connecting: ['online', 'reconnecting', 'needs_login', 'flood_wait', 'disconnecting'],
  online: ['connecting', 'reconnecting', 'needs_login', 'flood_wait', 'disconnecting'],
  reconnecting: ['connecting', 'online', 'needs_login', 'flood_wait', 'disconnecting'],
  needs_login: ['connecting', 'disconnecting'],
  flood_wait: ['connecting', 'disconnecting'],
  disconnecting: ['disconnected'],
  disconnected: ['connecting'],
}

export function isAccountHealth(value: unknown): value is AccountHealth {
  return typeof value === 'string' && (ACCOUNT_HEALTH as readonly string[]).includes(value)
}

/** Whether `to` may follow `from`; a state never "changes" to itself. */
export function canChangeHealth(from: AccountHealth, to: AccountHealth): boolean {
  return HEALTH_TRANSITIONS[from].includes(to)
}
