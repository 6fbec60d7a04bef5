import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import {
  ACCOUNT_HEALTH,
  type AccountHealth,
  canChangeHealth,
  HEALTH_TRANSITIONS,
  isAccountHealth,
} from '../../src/bridge/health.ts'
import type { AccountHealth as StoredHealth } from '../../storage/repos/accounts.ts'

// Compile-time: the bridge's vocabulary and the repository's are the same set.
const toStored = (health: AccountHealth): StoredHealth => health
const fromStored = (health: StoredHealth): AccountHealth => health

describe('health vocabulary', () => {
  test('is exactly the values the accounts.health column accepts', () => {
    const sql = readFileSync(
      new URL('../../storage/migrations/00002_accounts/index.sql', import.meta.url),
      'utf8',
    )
    const check = /health in \(([^)]*)\)/.exec(sql)?.[1] ?? ''
    const allowed = [...check.matchAll(/'([a-z_]+)'/g)].map((m) => m[1])
    expect(allowed).toEqual([...ACCOUNT_HEALTH])
    expect(ACCOUNT_HEALTH.map(toStored).map(fromStored)).toEqual([...ACCOUNT_HEALTH])
  })

  test('every state has its transitions, none to itself, and all targets are in the vocabulary', () => {
    expect(Object.keys(HEALTH_TRANSITIONS).sort()).toEqual([...ACCOUNT_HEALTH].sort())
    for (const from of ACCOUNT_HEALTH) {
      expect(canChangeHealth(from, from)).toBe(false)
      for (const to of HEALTH_TRANSITIONS[from]) expect(isAccountHealth(to)).toBe(true)
    }
  })

  test('disconnecting only leads to disconnected; every live state can be disconnected', () => {
    expect(HEALTH_TRANSITIONS.disconnecting).toEqual(['disconnected'])
    for (const from of ['connecting', 'online', 'reconnecting', 'needs_login', 'flood_wait'] as const) {
      expect(canChangeHealth(from, 'disconnecting')).toBe(true)
      expect(canChangeHealth(from, 'disconnected')).toBe(false)
    }
    expect(canChangeHealth('needs_login', 'online')).toBe(false)
  })

  test('isAccountHealth rejects the hyphenated spelling and other values', () => {
    expect(isAccountHealth('needs_login')).toBe(true)
    expect(isAccountHealth('needs-login')).toBe(false)
    expect(isAccountHealth(undefined)).toBe(false)
  })
})
