import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig } from '../../src/config/load.ts'
import { defaultRetentionPeriods } from '../../src/retention/periods.ts'

describe('retention periods from the environment', () => {
  test('R3, R5–R8: unset variables give the promise defaults (90, 30, 7, 90, 7 days)', () => {
    expect(loadConfig({}).retention).toEqual({ R3: 90, R5: 30, R6: 7, R7: 90, R8: 7 })
    expect(loadConfig({}).retention).toEqual(defaultRetentionPeriods)
  })

  test('R3, R5–R8: each period has its own variable', () => {
    const config = loadConfig({
      RETENTION_MESSAGES_DAYS: '30',
      RETENTION_LOGS_DAYS: '14',
      RETENTION_STALE_DAYS: '3',
      RETENTION_ANALYTICS_DAYS: '60',
      RETENTION_UNDELIVERED_DAYS: '2',
    })
    expect(config.retention).toEqual({ R3: 30, R5: 14, R6: 3, R7: 60, R8: 2 })
    // Compose files pass empty values: they count as unset.
    expect(loadConfig({ RETENTION_STALE_DAYS: '' }).retention.R6).toBe(7)
  })

  test('R3: a bad period stops the start with one line naming the variable', () => {
    expect(() => loadConfig({ RETENTION_MESSAGES_DAYS: '0' })).toThrow(
      new ConfigError('RETENTION_MESSAGES_DAYS: must be at least 1'),
    )
    expect(() => loadConfig({ RETENTION_MESSAGES_DAYS: '1.5' })).toThrow(
      'RETENTION_MESSAGES_DAYS: not a whole number',
    )
    expect(() => loadConfig({ RETENTION_UNDELIVERED_DAYS: '9999' })).toThrow(
      'RETENTION_UNDELIVERED_DAYS: must be at most 3650',
    )
  })
})
