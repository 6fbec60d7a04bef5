/**
 * @module How long each retention rule keeps its data, in words, with the periods in force (PRIVACY R1–R8):
 * rules without a period use the policy's own text; rules with one are phrased around the configured number
 * of days, so the privacy page and the access export say what the retention sweep actually does.
 */

import type { PeriodRuleId, RetentionRule, RuleId, Text } from './policy-types.ts'
import type { RetentionPeriods } from './retention-periods.ts'
import { PERIOD_RULES } from './retention-periods.ts'

export type Lang = keyof Text

/** 1 день, 2 дня, 5 дней, 21 день, 111 дней. */
export function russianDays(n: number): string {
  const tens = n % 100
  const units = n % 10
  if (tens >= 11 && tens <= 14) return `${n} дней`
  if (units === 1) return `${n} день`
  if (units >= 2 && units <= 4) return `${n} дня`
  return `${n} дней`
}

/** After "до", "не более": до 1 дня, до 2 дней, до 21 дня, до 90 дней. */
export function russianDaysGenitive(n: number): string {
  return n % 10 === 1 && n % 100 !== 11 ? `${n} дня` : `${n} дней`
}

const englishDays = (n: number) => (n === 1 ? '1 day' : `${n} days`)

/** One phrase per rule with a period; the record type makes a new period rule need its phrase. */
const KEPT_FOR: Record<PeriodRuleId, (days: number) => Text> = {
  R3: (n) => ({ en: `${englishDays(n)}`, ru: `До ${russianDaysGenitive(n)}` }),
  R5: (n) => ({ en: `${englishDays(n)}`, ru: `До ${russianDaysGenitive(n)}` }),
  R6: (n) => ({
    en: `marked stale, deleted ${englishDays(n)} after marking`,
    ru: `Помечаются как устаревшие и удаляются через ${russianDays(n)}`,
  }),
  R7: (n) => ({ en: `rolling ${englishDays(n)} history`, ru: `История за ${russianDays(n)}` }),
  R8: (n) => ({
    en: `only until delivered; an undeliverable one at most ${englishDays(n)}`,
    ru: `Только до доставки; недоставленные — не более ${russianDaysGenitive(n)}`,
  }),
}

export function isPeriodRule(rule: RuleId): rule is PeriodRuleId {
  return (PERIOD_RULES as readonly RuleId[]).includes(rule)
}

/** "Kept" of a rule with the configured period filled in. */
export function keptText(rule: RetentionRule, periods: RetentionPeriods): Text {
  return isPeriodRule(rule.id) ? KEPT_FOR[rule.id](periods[rule.id]) : rule.kept
}
