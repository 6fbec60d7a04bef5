import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Repositories } from '../../storage/repos/index.ts'
import { LineNotFoundError } from '../../storage/repos/lines.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories, seedPortal } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let portalId: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  portalId = (await seedPortal(repos)).id
})
afterAll(() => db.drop())

// Bitrix24 sends UPPER_SNAKE keys; they must come back exactly as stored (no camelCase renaming).
const settings = { ACTIVE_STATUS: 'Y', line_name: 'Support', nested: { QUEUE_TIME: 60, list: [{ a_b: 1 }] } }

describe('LineRepository', () => {
  test('upsert creates a line; settings round-trip byte for byte', async () => {
    const line = await repos.lines.upsert({ portalId, connectorId: 'olchat_tg', lineId: '5', settings })
    expect(line).toMatchObject({ portalId, connectorId: 'olchat_tg', lineId: '5', settings })
    expect(await repos.lines.get(line.id)).toEqual(line)
  })

  test('upsert without settings keeps them; with settings replaces them', async () => {
    const kept = await repos.lines.upsert({ portalId, connectorId: 'olchat_tg', lineId: '5' })
    expect(kept.settings).toEqual(settings)
    const replaced = await repos.lines.upsert({
      portalId,
      connectorId: 'olchat_tg',
      lineId: '5',
      settings: { X: 1 },
    })
    expect(replaced.id).toBe(kept.id)
    expect(replaced.settings).toEqual({ X: 1 })
  })

  test('mergeSettings merges top-level keys', async () => {
    const line = (await repos.lines.find(portalId, 'olchat_tg', '5'))!
    expect((await repos.lines.mergeSettings(line.id, { Y_Z: true })).settings).toEqual({ X: 1, Y_Z: true })
  })

  test('find and listByPortal', async () => {
    await repos.lines.upsert({ portalId, connectorId: 'olchat_max', lineId: '5' })
    expect(await repos.lines.find(portalId, 'olchat_tg', '404')).toBeUndefined()
    expect((await repos.lines.listByPortal(portalId)).map((l) => l.connectorId)).toEqual([
      'olchat_max',
      'olchat_tg',
    ])
  })

  test('delete unbinds accounts instead of deleting them', async () => {
    const line = (await repos.lines.find(portalId, 'olchat_max', '5'))!
    const account = await repos.accounts.create({ portalId, messenger: 'max', lineId: line.id })
    expect(await repos.lines.delete(line.id)).toBe(true)
    expect(await repos.lines.delete(line.id)).toBe(false)
    expect((await repos.accounts.get(account.id)).lineId).toBeNull()
    await expect(repos.lines.get(line.id)).rejects.toBeInstanceOf(LineNotFoundError)
    await expect(repos.lines.mergeSettings(line.id, {})).rejects.toBeInstanceOf(LineNotFoundError)
  })
})
