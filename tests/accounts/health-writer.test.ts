/** The health writer: writes land in the order of the changes even when an earlier one is slower or fails. */
import { describe, expect, test } from 'bun:test'
import { Registry } from 'prom-client'
import type { HealthChange } from '../../actors/account-machine.ts'
import { createAccountMetrics, HealthWriter } from '../../src/accounts/health-writer.ts'
import type { AccountHealth } from '../../src/bridge/health.ts'
import { toAccountId } from '../../src/bridge/ids.ts'

const change = (accountId: string, health: AccountHealth): HealthChange => ({
  accountId: toAccountId(accountId),
  health,
  previous: null,
  at: Date.now(),
})

async function gauge(registry: Registry): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'olchat_accounts')!
  const values = metric.values.filter((v) => v.value !== 0)
  return Object.fromEntries(values.map((v) => [String(v.labels.health), v.value]))
}

describe('HealthWriter', () => {
  test('stores changes in order per account; a failed write does not block the next', async () => {
    const stored: string[] = []
    const delays: Record<string, number> = { connecting: 30, online: 0 }
    const writer = new HealthWriter(
      {
        setHealth: async (id: string, health: AccountHealth) => {
          await Bun.sleep(delays[health] ?? 0)
          if (health === 'reconnecting') throw new Error('database down')
          stored.push(`${id}:${health}`)
          return {} as never
        },
      },
      createAccountMetrics(new Registry()),
    )
    const writes = [
      writer.write(change('a', 'connecting')),
      writer.write(change('a', 'reconnecting')),
      writer.write(change('a', 'online')),
    ]
    const results = await Promise.allSettled(writes)
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(stored).toEqual(['a:connecting', 'a:online'])
  })

  test('the gauge counts the accounts run here by their current health; alerts are counted', async () => {
    const registry = new Registry()
    const writer = new HealthWriter({ setHealth: async () => ({}) as never }, createAccountMetrics(registry))
    await writer.write(change('a', 'connecting'))
    await writer.write(change('b', 'connecting'))
    await writer.write(change('a', 'online'))
    expect(await gauge(registry)).toEqual({ connecting: 1, online: 1 })
    writer.forget('b')
    expect(await gauge(registry)).toEqual({ online: 1 })
    writer.alert({ type: 'raised', accountId: toAccountId('a'), health: 'reconnecting', downSince: 0, at: 1 })
    expect(await registry.getSingleMetricAsString('olchat_account_alerts_total')).toContain(
      'olchat_account_alerts_total{type="raised"} 1',
    )
  })
})
