/**
 * A Telegram login runs on a storage of its own in memory (`src/connectors/telegram/staging.ts`): nothing
 * reaches the `telegram_*` tables while it runs — a new account has no row yet for their foreign key — and
 * its contents are staged in the login's session. Here: the export → import round trip into the real
 * tables (replacing an older session, again after a crash), an entry that does not parse, logins of an
 * account id without a row, and the logout of a staged login that leaves the account's rows alone.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomUUID } from 'node:crypto'
import { MemoryStorage } from '@mtcute/core'
import type { AccountLogin } from '../../../src/bridge/connector.ts'
import { toAccountId, toLoginFlowId } from '../../../src/bridge/ids.ts'
import type { LoginStep, SessionStore } from '../../../src/bridge/login.ts'
import { SESSION_KEYS } from '../../../src/connectors/telegram/session-keys.ts'
import { exportStaged, importStaged, readStaged } from '../../../src/connectors/telegram/staging.ts'
import { telegramStorage } from '../../../src/connectors/telegram/storage.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { repositories, seedAccount } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { MemorySessionStore } from '../contract.ts'
import { load, online } from './accounts.ts'
import { telegramHarness } from './harness.ts'

let db: TestDatabase
let repos: Repositories
let h: ReturnType<typeof telegramHarness>
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  h = telegramHarness(repos)
})
afterAll(() => db.drop())

const key = (seed: number) => Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + seed) % 256)
const bytes = (...values: number[]) => Uint8Array.from(values)
const peer = (id: number, extra: { phone?: string; isMin?: boolean; usernames?: string[] } = {}) => ({
  id,
  accessHash: `${id}77`,
  isMin: false,
  usernames: [] as string[],
  updated: 1_700_000_000_000,
  complete: bytes(id % 256, 9, 8, 7),
  ...extra,
})

/** Rows of every Telegram session table, of one account or of all. */
async function telegramRows(accountId?: string): Promise<number> {
  const tables = ['telegram_auth_keys', 'telegram_kv', 'telegram_peers', 'telegram_message_refs']
  let total = 0
  for (const table of tables) {
    const [row] = accountId
      ? await db.sql<{ n: number }[]>`
          select count(*)::int as n from ${db.sql(table)} where account_id = ${accountId}`
      : await db.sql<{ n: number }[]>`select count(*)::int as n from ${db.sql(table)}`
    total += row!.n
  }
  return total
}

/** A login's storage as mtcute leaves it: keys of two DCs, kv entries, a full and a min peer. */
function loginStorage(): MemoryStorage {
  const storage = new MemoryStorage()
  storage.authKeys.set(2, key(1))
  storage.authKeys.set(4, key(2))
  // Temporary keys are mtcute's to make again: not staged.
  storage.authKeys.setTemp(2, 0, key(3), 2_000_000_000)
  storage.kv.set('current_user', bytes(1, 0, 0, 0, 42))
  storage.kv.set('updates_pts', bytes(7, 0, 0, 0))
  storage.peers.store(peer(1001, { phone: '79990001001', usernames: ['shop'] }))
  storage.peers.store(peer(1002, { isMin: true }))
  return storage
}

describe('staging: export → import', () => {
  test('auth keys, kv entries and peers replace the account’s older session; the entry goes', async () => {
    const accountId = (await seedAccount(repos)).id
    const rows = telegramStorage(repos.telegramSessions, accountId)
    // An older session of the account (a re-login replaces it).
    await rows.authKeys.set(2, key(90))
    await rows.authKeys.set(5, key(91))
    await rows.kv.set('updates_seq', bytes(5))
    await rows.peers.store(peer(900))
    await rows.refMessages.store(900, 1, 2)
    const session = new MemorySessionStore()
    await session.set(SESSION_KEYS.staged, exportStaged(loginStorage()))

    expect(await importStaged(session, rows)).toBe('imported')

    expect(await rows.authKeys.get(2)).toEqual(key(1))
    expect(await rows.authKeys.get(4)).toEqual(key(2))
    expect(await rows.authKeys.get(5)).toBeNull()
    expect(await rows.authKeys.getTemp(2, 0, 0)).toBeNull()
    expect(await rows.kv.get('current_user')).toEqual(bytes(1, 0, 0, 0, 42))
    expect(await rows.kv.get('updates_pts')).toEqual(bytes(7, 0, 0, 0))
    expect(await rows.kv.get('updates_seq')).toBeNull()
    expect(await rows.peers.getById(1001)).toMatchObject({
      accessHash: '100177',
      isMin: false,
      usernames: ['shop'],
      phone: '79990001001',
      complete: bytes(1001 % 256, 9, 8, 7),
    })
    expect(await rows.peers.getByPhone('79990001001')).toMatchObject({ id: 1001 })
    expect(await rows.peers.getById(1002)).toMatchObject({ isMin: true })
    expect(await rows.peers.getById(900)).toBeNull()
    expect(await rows.refMessages.getByPeer(900)).toBeNull()
    expect(session.values.has(SESSION_KEYS.staged)).toBe(false)
    // Two keys, two kv entries, two peers.
    expect(await telegramRows(accountId)).toBe(6)
    expect(await importStaged(session, rows)).toBe('none')
    expect(await telegramRows(accountId)).toBe(6)
  })

  test('a crash after the import but before the entry went: the next start imports the same again', async () => {
    const accountId = (await seedAccount(repos)).id
    const rows = telegramStorage(repos.telegramSessions, accountId)
    const memory = new MemorySessionStore()
    await memory.set(SESSION_KEYS.staged, exportStaged(loginStorage()))
    const crashing: SessionStore = {
      get: (k) => memory.get(k),
      set: (k, value) => memory.set(k, value),
      clear: () => memory.clear(),
      delete: async () => {
        throw new Error('process died')
      },
    }
    await expect(importStaged(crashing, rows)).rejects.toThrow('process died')
    const afterCrash = await telegramRows(accountId)
    expect(afterCrash).toBe(6)
    expect(await importStaged(memory, rows)).toBe('imported')
    expect(await telegramRows(accountId)).toBe(afterCrash)
    expect(await rows.authKeys.get(2)).toEqual(key(1))
    expect(memory.values.has(SESSION_KEYS.staged)).toBe(false)
  })

  test('an entry that does not parse is not imported; the client reports bad-credentials and forgets it', async () => {
    const accountId = (await seedAccount(repos)).id
    const rows = telegramStorage(repos.telegramSessions, accountId)
    await rows.kv.set('updates_pts', bytes(1, 0, 0, 0))
    const session = new MemorySessionStore()
    const broken = JSON.stringify({ version: 1, authKeys: [{ dc: 2, key: 'c2hvcnQ=' }], kv: [], peers: [] })
    await session.set(SESSION_KEYS.staged, broken)
    expect(await readStaged(session)).toBe('invalid')
    expect(await importStaged(session, rows)).toBe('invalid')
    expect(await telegramRows(accountId)).toBe(1)

    await session.set(SESSION_KEYS.user, '42')
    const login: AccountLogin = { id: toAccountId(accountId), remoteId: null, credentials: null, session }
    const { client, log } = load(h, login)
    await client.connect()
    expect(log.events).toMatchObject([{ type: 'connection', state: 'bad-credentials' }])
    expect(session.values.size).toBe(0)
    expect(await telegramRows(accountId)).toBe(0)
  })
})

describe('staging: logins never write the telegram tables', () => {
  const phoneFlow = toLoginFlowId('phone')
  const qrFlow = toLoginFlowId('qr')
  /** What the admin API passes for a new account: an id without a row yet. */
  const newAccountContext = () => ({
    accountId: toAccountId(randomUUID()),
    session: new MemorySessionStore(),
    signal: new AbortController().signal,
  })
  const urlOf = (step: LoginStep) =>
    step.type === 'display-and-wait' && step.displayData.kind === 'qr' ? step.displayData.data : ''

  test('phone → code → 2FA for an account id without a row: complete, nothing in the tables', async () => {
    const before = await telegramRows()
    h.world.addAccount({ firstName: 'New', phone: '79770000001', password: 'secret' })
    const context = newAccountContext()
    const login = h.connector.createLogin(phoneFlow, context)
    await login.start()
    expect(await login.submit({ phone: '+79770000001' })).toMatchObject({ stepId: 'telegram.code' })
    const password = await login.submit({ code: h.world.codes.get('79770000001')!.code })
    expect(password).toMatchObject({ stepId: 'telegram.password' })
    expect(await login.submit({ password: 'secret' })).toMatchObject({ type: 'complete' })
    expect(await telegramRows()).toBe(before)
    const staged = await readStaged(context.session)
    if (staged === undefined || staged === 'invalid') throw new Error(`staged: ${staged}`)
    expect(staged.authKeys.map((entry) => entry.dc)).toEqual([2])
    expect(staged.kv.map((entry) => entry.key)).toEqual(
      expect.arrayContaining(['current_user', 'updates_pts', 'updates_qts', 'updates_date', 'updates_seq']),
    )
  })

  test('QR for an account id without a row: complete, nothing in the tables', async () => {
    const before = await telegramRows()
    h.world.addAccount({ firstName: 'NewQr', phone: '79770000002' })
    h.world.qrTtl = 30
    const context = newAccountContext()
    const login = h.connector.createLogin(qrFlow, context)
    const first = await login.start()
    h.world.scanQr(urlOf(first), '79770000002')
    expect(await login.wait()).toMatchObject({ type: 'complete' })
    expect(await telegramRows()).toBe(before)
    expect(context.session.values.has(SESSION_KEYS.staged)).toBe(true)
  })

  test('a staged login of another person is logged out at Telegram; the account’s rows stay as they were', async () => {
    const running = await online(h)
    const accountId = running.login.id
    const rowsBefore = await telegramRows(accountId)
    const keyBefore = await telegramStorage(repos.telegramSessions, accountId).authKeys.get(2)
    expect(rowsBefore).toBeGreaterThan(0)
    // A re-login of this account by someone else, refused: the admin API logs it out over the login's session.
    const stranger = h.world.addAccount({ firstName: 'Stranger', phone: '79770000003' })
    const context = { ...newAccountContext(), accountId }
    const login = h.connector.createLogin(phoneFlow, context)
    await login.start()
    await login.submit({ phone: '79770000003' })
    await login.submit({ code: h.world.codes.get('79770000003')!.code })
    const strangerKeys = () => [...h.world.authorizations.values()].filter((a) => a === stranger).length
    expect(strangerKeys()).toBe(1)

    const refused = load(h, { id: accountId, remoteId: null, credentials: null, session: context.session })
    await refused.client.logoutRemote()
    expect(strangerKeys()).toBe(0)
    expect(context.session.values.has(SESSION_KEYS.staged)).toBe(false)
    expect(await telegramRows(accountId)).toBe(rowsBefore)
    expect(await telegramStorage(repos.telegramSessions, accountId).authKeys.get(2)).toEqual(keyBefore)
    // The account's own session still works.
    const alice = h.world.addUser({ firstName: 'Alice' })
    h.world.customerSends(running.phone, alice, 'still here')
    await running.log.waitFor((e) => e.type === 'message' && e.text === 'still here')
    await running.client.disconnect()
  })
})
