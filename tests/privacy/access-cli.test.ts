/**
 * D1 as support runs it: `bun src/cli.ts access-export …` as a real process against this run's backend
 * (DATABASE_URL, or the embedded database in OLCHAT_DATA_DIR), writing JSON or the HTML report to a file.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { connect, type Sql } from '../../storage/db.ts'
import { startEmbeddedPostgres } from '../../storage/embedded-postgres.ts'
import { migrate } from '../../storage/migrate.ts'
import { createRepositories } from '../../storage/repos/index.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const root = resolve(import.meta.dir, '../..')
const backend = testBackendSet()
const work = mkdtempSync(join(tmpdir(), 'olchat-access-cli-'))
const keyText = `k1:${generateKey()}`
const env: Record<string, string> = {
  OLCHAT_DATA_DIR: join(work, 'data'),
  OLCHAT_ENCRYPTION_KEYS: keyText,
  LOG_LEVEL: 'warn',
}
let database: TestDatabase | undefined
const phone = '+79161112233'

async function seed(sql: Sql): Promise<void> {
  await migrate(sql)
  const repos = createRepositories(sql, KeyRing.fromText(keyText))
  const { portal } = await repos.portals.upsert({ memberId: 'cli-export', domain: 'cli-export.bitrix24.ru' })
  const account = await repos.accounts.create({ portalId: portal.id, messenger: 'telegram', phone })
  await repos.contacts.upsert(account.id, { remoteId: '31337', firstName: 'Пётр', phone: '+79160000001' })
}

beforeAll(async () => {
  if (backend === 'real') {
    database = await createTestDatabase({ migrated: false })
    env.DATABASE_URL = database.url
    await seed(database.sql)
    return
  }
  const embedded = await startEmbeddedPostgres(join(env.OLCHAT_DATA_DIR!, 'pg'))
  const sql = connect(embedded.url, 1)
  await seed(sql)
  await sql.end({ timeout: 1 })
  await embedded.stop()
})
afterAll(async () => {
  await database?.drop()
  rmSync(work, { recursive: true, force: true })
})

async function olchat(...args: string[]) {
  const child = Bun.spawn([process.execPath, 'src/cli.ts', 'access-export', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [code, err] = await Promise.all([child.exited, new Response(child.stderr).text()])
  return { code, err }
}

describe(`olchat access-export (${backend} backend)`, () => {
  test('D1: the command writes the JSON export and the Russian report to files only its owner can read', async () => {
    const json = join(work, 'export.json')
    expect(await olchat('cli-export.bitrix24.ru', '--out', json)).toEqual({ code: 0, err: '' })
    const report = JSON.parse(readFileSync(json, 'utf8'))
    expect(report.classes.map((c: { id: string }) => c.id)).toEqual(['I1', 'I2', 'I3', 'I4', 'I5', 'I6'])
    expect(JSON.stringify(report)).toContain(phone)
    expect(statSync(json).mode & 0o777).toBe(0o600)

    const html = join(work, 'contact.html')
    const byContact = await olchat('cli-export', '--contact-remote-id', '31337', '--html', '--out', html)
    expect(byContact).toEqual({ code: 0, err: '' })
    const page = readFileSync(html, 'utf8')
    expect(page).toContain('Пётр')
    expect(page).not.toContain(phone)
  })

  test('D1: bad arguments exit 2; an unknown portal or a double narrowing exits 1 naming the reason', async () => {
    expect((await olchat()).code).toBe(2)
    expect((await olchat('a', 'b')).code).toBe(2)
    const unknown = await olchat('nowhere.bitrix24.ru')
    expect(unknown.code).toBe(1)
    expect(unknown.err).toContain('no installed portal')
    const both = await olchat(
      'cli-export',
      '--account',
      crypto.randomUUID(),
      '--contact-phone',
      '+7 916 000-00-01',
    )
    expect(both.code).toBe(1)
    expect(both.err).toContain('narrow to one account or one contact')
  })
})
