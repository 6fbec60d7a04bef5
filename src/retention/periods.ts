/**
 * @module How long each data class with a period is kept (PRIVACY R3, R5, R6, R7, R8), in days. The keys
 * are the rule ids, so the policy's own periods object (`src/privacy/retention-periods.ts`) fits here as is.
 * Deployments set them through `RETENTION_*_DAYS` (src/config).
 */

export type PeriodRule = 'R3' | 'R5' | 'R6' | 'R7' | 'R8'

export type RetentionPeriods = Readonly<Record<PeriodRule, number>>

/** The promise's defaults (PRIVACY.md, retention table). */
export const defaultRetentionPeriods: RetentionPeriods = {
  /** Message metadata. */
  R3: 90,
  /** Stored logs: finished inbox events, audit entries. */
  R5: 30,
  /** Stale data, counted from the stale mark. */
  R6: 7,
  /** Analytics aggregates. */
  R7: 90,
  /** Undelivered bodies and files (dead letters), and the tombstones of finished relay jobs. */
  R8: 7,
}

export const DAY_MS = 86_400_000

/** The instant before which data under `rule` is past its period. */
export function cutoffFor(periods: RetentionPeriods, rule: PeriodRule, now: Date): Date {
  return new Date(now.getTime() - periods[rule] * DAY_MS)
}
