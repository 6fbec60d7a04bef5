/**
 * @module Retention periods in force: the policy's defaults (R3 90, R5 30, R6 7, R7 90, R8 7 days) with a
 * deployment's overrides, validated (a bad value is refused with the rule named, nothing applied).
 */
import * as v from 'valibot'
import { privacyPolicy } from './policy.ts'
import type { PeriodRuleId } from './policy-types.ts'

export type RetentionPeriods = Readonly<Record<PeriodRuleId, number>>

export const PERIOD_RULES: readonly PeriodRuleId[] = ['R3', 'R5', 'R6', 'R7', 'R8']

const Days = v.pipe(v.number(), v.integer('must be whole days'), v.minValue(1), v.maxValue(3650))

const OverridesSchema = v.strictObject({
  R3: v.optional(Days),
  R5: v.optional(Days),
  R6: v.optional(Days),
  R7: v.optional(Days),
  R8: v.optional(Days),
})

export const defaultPeriods: RetentionPeriods = Object.fromEntries(
  PERIOD_RULES.map((rule) => [rule, privacyPolicy.rules[rule].defaultDays!]),
) as Record<PeriodRuleId, number>

export class PeriodsError extends Error {
  override name = 'PeriodsError'
}

/** @throws PeriodsError naming the rule and the reason, e.g. `R3: must be whole days`. */
export function retentionPeriods(overrides: unknown = {}): RetentionPeriods {
  const result = v.safeParse(OverridesSchema, overrides)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue.path?.map((item) => String(item.key)).join('.') || 'periods'
    throw new PeriodsError(`${path}: ${issue.message}`)
  }
  const chosen = Object.fromEntries(Object.entries(result.output).filter(([, days]) => days !== undefined))
  return { ...defaultPeriods, ...chosen }
}

const DAY_MS = 86_400_000

/** The instant before which data under `rule` is past its period. */
export function cutoffOf(periods: RetentionPeriods, rule: PeriodRuleId, now: Date, graceMs = 0): Date {
  return new Date(now.getTime() - periods[rule] * DAY_MS - graceMs)
}
