/**
 * The privacy page as Olchat serves it: `bun src/main.ts` started as a real process with a shortened
 * metadata period, `GET /privacy` over HTTP shows that period and the stores of this run's backend.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey } from '../../src/crypto/key-ring.ts'
import { testBackendSet } from '../support/backends.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const backend = testBackendSet()
const dataDir = mkdtempSync(join(tmpdir(), 'olchat-privacy-page-'))
let database: TestDatabase | undefined
let olchat: OlchatProcess

beforeAll(async () => {
  if (backend === 'real') database = await createTestDatabase({ migrated: false })
  olchat = startOlchat({
    OLCHAT_DATA_DIR: dataDir,
    OLCHAT_ENCRYPTION_KEYS: `k1:${generateKey()}`,
    RETENTION_MESSAGES_DAYS: '33',
    BACKUP_RETENTION_DAYS: '12',
    LOG_LEVEL: 'info',
    ...(database ? { DATABASE_URL: database.url } : {}),
  })
  await olchat.waitReady(60_000)
})
afterAll(async () => {
  await olchat?.stop()
  await database?.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

test('R3, P4: the running Olchat serves /privacy with its own periods and stores, Russian first', async () => {
  const base = await olchat.baseUrl()
  const ru = await (await fetch(`${base}/privacy`)).text()
  expect(ru).toContain('<html lang="ru">')
  expect(ru).toContain('До 33 дней')
  expect(ru).toContain('Резервные копии</td><td>До 12 дней')
  expect(ru).toContain(backend === 'real' ? 'Базы данных — PostgreSQL' : 'встроенная PostgreSQL (PGlite)')
  const en = await (await fetch(`${base}/privacy?lang=en`)).text()
  expect(en).toContain('<html lang="en">')
  expect(en).toContain('33 days')
})
