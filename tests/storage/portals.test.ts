import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { DecryptError } from '../../src/crypto/key-ring.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { PortalNotFoundError } from '../../storage/repos/portals.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { rawText, repositories, seedChat } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
})
afterAll(() => db.drop())

const install = {
  memberId: 'member-1',
  domain: 'one.bitrix24.ru',
  serverEndpoint: 'https://oauth.bitrix.info/rest/',
  clientEndpoint: 'https://one.bitrix24.ru/rest/',
  applicationToken: 'app-token-secret-1',
  accessToken: 'access-token-secret-1',
  refreshToken: 'refresh-token-secret-1',
  tokenExpiresAt: new Date('2030-01-01T00:00:00Z'),
}

describe('PortalRepository', () => {
  test('upsert creates a portal by member_id and hands back plain tokens', async () => {
    const { portal, created } = await repos.portals.upsert(install)
    expect(created).toBe(true)
    expect(portal).toMatchObject({
      ...install,
      status: 'active',
      ratePlan: 'standard',
      appClientSecret: null,
    })
    expect(await repos.portals.get(portal.id)).toEqual(portal)
  })

  test('a repeated install updates the row and keeps values it does not carry', async () => {
    const before = await repos.portals.getByMemberId('member-1')
    await repos.portals.setStatus(before.id, 'needs_reauth')
    const { portal, created } = await repos.portals.upsert({
      memberId: 'member-1',
      domain: 'renamed.bitrix24.ru',
      ratePlan: 'enterprise',
    })
    expect(created).toBe(false)
    expect(portal.id).toBe(before.id)
    expect(portal).toMatchObject({
      domain: 'renamed.bitrix24.ru',
      ratePlan: 'enterprise',
      status: 'active',
      accessToken: install.accessToken,
      applicationToken: install.applicationToken,
    })
    expect(portal.installedAt).toEqual(before.installedAt)
  })

  test('updateTokens stores a refreshed pair and re-activates a portal needing re-auth', async () => {
    const portal = await repos.portals.getByMemberId('member-1')
    await repos.portals.setStatus(portal.id, 'needs_reauth')
    const expiresAt = new Date('2031-05-05T05:05:05Z')
    await repos.portals.updateTokens(portal.id, {
      accessToken: 'access-2',
      refreshToken: 'refresh-2',
      expiresAt,
    })
    expect(await repos.portals.get(portal.id)).toMatchObject({
      accessToken: 'access-2',
      refreshToken: 'refresh-2',
      tokenExpiresAt: expiresAt,
      status: 'active',
    })
  })

  test('setStatus and setAppCredentials', async () => {
    const portal = await repos.portals.getByMemberId('member-1')
    await repos.portals.setStatus(portal.id, 'uninstalled')
    await repos.portals.setAppCredentials(portal.id, {
      clientId: 'local.abc',
      clientSecret: 'client-secret-xyz',
    })
    expect(await repos.portals.get(portal.id)).toMatchObject({
      status: 'uninstalled',
      appClientId: 'local.abc',
      appClientSecret: 'client-secret-xyz',
    })
    await repos.portals.setStatus(portal.id, 'active')
  })

  test('S4: tokens and the client secret are not stored in clear', async () => {
    const raw = await rawText(db.sql, 'portals')
    for (const secret of ['access-2', 'refresh-2', install.applicationToken, 'client-secret-xyz']) {
      expect(raw).not.toContain(secret)
      expect(raw).not.toContain(Buffer.from(secret).toString('hex'))
    }
  })

  test('S4: a sealed value is bound to its column (copying it to another column does not open)', async () => {
    const portal = await repos.portals.getByMemberId('member-1')
    await db.sql`update portals set refresh_token_enc = access_token_enc where id = ${portal.id}`
    await expect(repos.portals.get(portal.id)).rejects.toBeInstanceOf(DecryptError)
    await repos.portals.updateTokens(portal.id, {
      accessToken: 'access-3',
      refreshToken: 'refresh-3',
      expiresAt: new Date(),
    })
  })

  test('unknown ids and member ids are domain errors', async () => {
    const missing = '00000000-0000-4000-8000-000000000000'
    await expect(repos.portals.get(missing)).rejects.toBeInstanceOf(PortalNotFoundError)
    await expect(repos.portals.getByMemberId('nope')).rejects.toBeInstanceOf(PortalNotFoundError)
    expect(await repos.portals.findByMemberId('nope')).toBeUndefined()
    await expect(repos.portals.setStatus(missing, 'active')).rejects.toBeInstanceOf(PortalNotFoundError)
    await expect(
      repos.portals.updateTokens(missing, { accessToken: 'a', refreshToken: 'r', expiresAt: new Date() }),
    ).rejects.toBeInstanceOf(PortalNotFoundError)
  })

  test('list returns every portal', async () => {
    await repos.portals.upsert({ memberId: 'member-2', domain: 'two.bitrix24.ru' })
    expect((await repos.portals.list()).map((p) => p.memberId)).toEqual(['member-1', 'member-2'])
  })

  test('D3: deleting a portal deletes every row of it, and only of it', async () => {
    const doomed = await repos.portals.getByMemberId('member-2')
    const survivor = await repos.portals.getByMemberId('member-1')
    const seed = async (portalId: string) => {
      const line = await repos.lines.upsert({ portalId, connectorId: 'olchat_tg', lineId: '1' })
      const account = await repos.accounts.create({ portalId, messenger: 'telegram', lineId: line.id })
      await repos.accountSessions.set(account.id, 'auth', 'session-bytes')
      const chat = await seedChat(repos, account.id)
      await repos.messages.recordInbound({
        accountId: account.id,
        chatId: chat.id,
        originId: '1',
        sentAt: new Date(),
      })
      await repos.deliveries.enqueue({
        accountId: account.id,
        chatId: chat.id,
        direction: 'to_portal',
        kind: 'message',
        idempotencyKey: `cascade-${portalId}`,
        payload: { text: 'hello' },
      })
      await repos.analytics.increment({ portalId, accountId: account.id, day: new Date(), inbound: 1 })
      await repos.analytics.increment({ portalId, day: new Date(), inbound: 1 })
    }
    await seed(doomed.id)
    await seed(survivor.id)
    await repos.auditLog.append({ portalRef: doomed.memberId, actor: 'system', action: 'app.uninstall' })
    const tablesOf = [
      'lines',
      'accounts',
      'account_sessions',
      'contacts',
      'chats',
      'messages',
      'deliveries',
      'analytics_daily',
    ]
    const counts = async () => {
      const result: Record<string, number> = {}
      for (const table of tablesOf) {
        const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from ${db.sql(table)}`
        result[table] = row!.n
      }
      return result
    }
    const before = await counts()
    expect(await repos.portals.delete(doomed.id)).toBe(true)
    expect(await repos.portals.delete(doomed.id)).toBe(false)
    const after = await counts()
    for (const table of tablesOf) expect(after[table]).toBe(before[table]! / 2)
    expect((await repos.accounts.listByPortal(survivor.id)).length).toBe(1)
    // The audit trail outlives the portal (no foreign key), and still verifies.
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 1 })
  })
})
