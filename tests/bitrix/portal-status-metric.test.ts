import { afterAll, beforeAll, expect, test } from 'bun:test'
import { registerPortalStatusGauge } from '../../src/bitrix/portal-status-metric.ts'
import { createMetrics } from '../../src/metrics.ts'
import { repositories } from '../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

test('portals needing re-authorisation are visible in /metrics', async () => {
  const repos = repositories(db.sql)
  const metrics = createMetrics('test')
  registerPortalStatusGauge(metrics.registry, db.sql)
  for (const memberId of ['a', 'b', 'c'])
    await repos.portals.upsert({ memberId, domain: `${memberId}.bitrix24.ru` })
  const dead = await repos.portals.getByMemberId('b')
  await repos.portals.setStatus(dead.id, 'needs_reauth')
  const text = await metrics.registry.metrics()
  expect(text).toContain('olchat_portals{status="active"} 2')
  expect(text).toContain('olchat_portals{status="needs_reauth"} 1')
  expect(text).toContain('olchat_portals{status="uninstalled"} 0')
})
