import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { AccountNotFoundError } from '../../storage/repos/accounts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { rawText, repositories, seedChat, seedPortal } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let portalId: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  portalId = (await seedPortal(repos)).id
})
afterAll(() => db.drop())

const phone = '+79161234567'
const botToken = 'max-bot-token-0123456789'

describe('AccountRepository', () => {
  test('create and get: sealed fields come back in clear', async () => {
    const account = await repos.accounts.create({
      portalId,
      messenger: 'telegram',
      remoteId: '777',
      displayName: 'Shop',
      username: 'shop',
      phone,
      avatarKey: 'avatars/777',
    })
    expect(account).toMatchObject({
      portalId,
      messenger: 'telegram',
      phone,
      health: 'connecting',
      lineId: null,
    })
    expect(account.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(await repos.accounts.get(account.id)).toEqual(account)
  })

  test('S4: phone and credentials are not in the table in clear', async () => {
    await repos.accounts.create({ portalId, messenger: 'max', credentials: botToken })
    const raw = await rawText(db.sql, 'accounts')
    for (const secret of [phone, botToken]) {
      expect(raw).not.toContain(secret)
      expect(raw).not.toContain(Buffer.from(secret).toString('hex'))
    }
    const [max] = (await repos.accounts.listByPortal(portalId)).filter((a) => a.messenger === 'max')
    expect(max!.credentials).toBe(botToken)
  })

  test('setHealth moves health_changed_at only on a change', async () => {
    const [account] = await repos.accounts.listByPortal(portalId)
    const online = await repos.accounts.setHealth(account!.id, 'online')
    expect(online.health).toBe('online')
    expect(online.healthChangedAt.getTime()).toBeGreaterThanOrEqual(account!.healthChangedAt.getTime())
    const again = await repos.accounts.setHealth(account!.id, 'online')
    expect(again.healthChangedAt).toEqual(online.healthChangedAt)
    await Bun.sleep(5)
    const flood = await repos.accounts.setHealth(account!.id, 'flood_wait')
    expect(flood.healthChangedAt.getTime()).toBeGreaterThan(online.healthChangedAt.getTime())
  })

  test('updateProfile: omitted fields are kept, null clears', async () => {
    const [account] = await repos.accounts.listByPortal(portalId)
    const updated = await repos.accounts.updateProfile(account!.id, { displayName: 'New name', phone: null })
    expect(updated).toMatchObject({ displayName: 'New name', phone: null, username: 'shop', remoteId: '777' })
    const rephoned = await repos.accounts.updateProfile(account!.id, { phone: '+70000000001' })
    expect(rephoned).toMatchObject({ phone: '+70000000001', displayName: 'New name' })
  })

  test('setCredentials, bindLine, setStale, listConnectable', async () => {
    const [account] = await repos.accounts.listByPortal(portalId)
    const line = await repos.lines.upsert({ portalId, connectorId: 'olchat_tg', lineId: '3' })
    await repos.accounts.setCredentials(account!.id, 'secret-2')
    await repos.accounts.bindLine(account!.id, line.id)
    const staleAt = new Date('2026-01-02T03:04:05Z')
    await repos.accounts.setStale(account!.id, staleAt)
    expect(await repos.accounts.get(account!.id)).toMatchObject({
      credentials: 'secret-2',
      lineId: line.id,
      staleAt,
    })
    await repos.accounts.setCredentials(account!.id, null)
    expect((await repos.accounts.get(account!.id)).credentials).toBeNull()
    await repos.accounts.setHealth(account!.id, 'disconnected')
    expect((await repos.accounts.listConnectable()).map((a) => a.id)).not.toContain(account!.id)
  })

  test('findBoundToLine: the account of the messenger bound to the line, none for another messenger or line', async () => {
    const line = await repos.lines.upsert({ portalId, connectorId: 'olchat_max', lineId: '7' })
    const other = await repos.lines.upsert({ portalId, connectorId: 'olchat_max', lineId: '8' })
    const bound = await repos.accounts.create({ portalId, messenger: 'max', lineId: line.id })
    await repos.accounts.create({ portalId, messenger: 'max', lineId: other.id })
    expect((await repos.accounts.findBoundToLine(line.id, 'max'))?.id).toBe(bound.id)
    expect(await repos.accounts.findBoundToLine(line.id, 'telegram')).toBeUndefined()
    await repos.accounts.bindLine(bound.id, null)
    expect(await repos.accounts.findBoundToLine(line.id, 'max')).toBeUndefined()
  })

  test('unknown ids are domain errors', async () => {
    const missing = '00000000-0000-4000-8000-000000000000'
    await expect(repos.accounts.get(missing)).rejects.toBeInstanceOf(AccountNotFoundError)
    await expect(repos.accounts.setHealth(missing, 'online')).rejects.toBeInstanceOf(AccountNotFoundError)
    await expect(repos.accounts.updateProfile(missing, {})).rejects.toBeInstanceOf(AccountNotFoundError)
    await expect(repos.accounts.bindLine(missing, null)).rejects.toBeInstanceOf(AccountNotFoundError)
  })

  test('D2: deleting an account removes its session, contacts, chats, messages and deliveries', async () => {
    const account = await repos.accounts.create({ portalId, messenger: 'sandbox' })
    const other = await repos.accounts.create({ portalId, messenger: 'sandbox' })
    for (const owner of [account, other]) {
      await repos.accountSessions.set(owner.id, 'auth', 'x')
      const chat = await seedChat(repos, owner.id)
      await repos.messages.recordInbound({
        accountId: owner.id,
        chatId: chat.id,
        originId: '1',
        sentAt: new Date(),
      })
      await repos.deliveries.enqueue({
        accountId: owner.id,
        chatId: chat.id,
        direction: 'to_messenger',
        kind: 'message',
        idempotencyKey: `d2-${owner.id}`,
        payload: 'hi',
      })
    }
    expect(await repos.accounts.delete(account.id)).toBe(true)
    expect(await repos.accounts.delete(account.id)).toBe(false)
    const [left] = await db.sql<{ n: number }[]>`
      select (select count(*) from account_sessions where account_id = ${account.id})
        + (select count(*) from contacts where account_id = ${account.id})
        + (select count(*) from chats where account_id = ${account.id})
        + (select count(*) from messages where account_id = ${account.id})
        + (select count(*) from deliveries where account_id = ${account.id}) as n`
    expect(Number(left!.n)).toBe(0)
    expect(await repos.accountSessions.list(other.id)).toHaveLength(1)
    expect(await repos.chats.listByAccount(other.id)).toHaveLength(1)
  })
})
