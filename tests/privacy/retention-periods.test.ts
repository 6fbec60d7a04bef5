import { describe, expect, test } from 'bun:test'
import { privacyPolicy } from '../../src/privacy/policy.ts'
import {
  cutoffOf,
  defaultPeriods,
  PeriodsError,
  retentionPeriods,
} from '../../src/privacy/retention-periods.ts'

describe('retention periods', () => {
  test('R3, R5, R6, R7, R8: the defaults are the published periods; a deployment may change them', () => {
    expect(defaultPeriods).toEqual({ R3: 90, R5: 30, R6: 7, R7: 90, R8: 7 })
    expect(retentionPeriods({ R3: 30 })).toEqual({ ...defaultPeriods, R3: 30 })
    // Event-bound rules have no period to configure.
    for (const rule of ['R1', 'R2', 'R4'] as const) expect(privacyPolicy.rules[rule].defaultDays).toBeNull()
    const now = new Date('2026-05-31T00:00:00Z')
    expect(cutoffOf(defaultPeriods, 'R3', now)).toEqual(new Date('2026-03-02T00:00:00Z'))
    expect(cutoffOf(defaultPeriods, 'R6', now, 3_600_000)).toEqual(new Date('2026-05-23T23:00:00Z'))
  })

  test('a bad period is refused naming the rule; nothing else is accepted', () => {
    expect(() => retentionPeriods({ R3: 0 })).toThrow(PeriodsError)
    expect(() => retentionPeriods({ R3: 1.5 })).toThrow('R3: must be whole days')
    expect(() => retentionPeriods({ R1: 3 })).toThrow(PeriodsError)
    expect(() => retentionPeriods('90')).toThrow(PeriodsError)
  })
})
