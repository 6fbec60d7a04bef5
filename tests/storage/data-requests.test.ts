import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { DataRequestNotFoundError } from '../../storage/repos/data-requests.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
})
afterAll(() => db.drop())

describe('DataRequestRepository', () => {
  test('create and get; scope keys are kept as given', async () => {
    const request = await repos.dataRequests.create({
      portalRef: 'hmac:abc',
      kind: 'access',
      scope: { contact_remote_id: '42', ACCOUNT: null },
      requestedBy: 'support:anna',
    })
    expect(request).toMatchObject({
      portalRef: 'hmac:abc',
      kind: 'access',
      status: 'pending',
      scope: { contact_remote_id: '42', ACCOUNT: null },
      receipt: null,
      completedAt: null,
    })
    expect(await repos.dataRequests.get(request.id)).toEqual(request)
  })

  test('start takes a pending request once', async () => {
    const [request] = await repos.dataRequests.listByPortal('hmac:abc')
    expect(await repos.dataRequests.start(request!.id)).toBe(true)
    expect(await repos.dataRequests.start(request!.id)).toBe(false)
    expect((await repos.dataRequests.get(request!.id)).status).toBe('running')
  })

  test('D4: complete stores the receipt with counts per data class', async () => {
    const request = await repos.dataRequests.create({
      portalRef: 'hmac:abc',
      kind: 'deletion',
      requestedBy: 'support:anna',
    })
    const receipt = { counts: { I1: 1, I2: 12, I5: 300 }, clean_flag: 'Y' }
    const done = await repos.dataRequests.complete(request.id, receipt)
    expect(done).toMatchObject({ status: 'done', receipt, scope: {} })
    expect(done.completedAt).toBeInstanceOf(Date)
    expect((await repos.dataRequests.listByPortal('hmac:abc')).map((r) => r.kind)).toEqual([
      'deletion',
      'access',
    ])
  })

  test('fail records the error; unknown ids are domain errors', async () => {
    const request = await repos.dataRequests.create({
      portalRef: 'hmac:def',
      kind: 'access',
      requestedBy: 'x',
    })
    expect(await repos.dataRequests.fail(request.id, 'object store unreachable')).toMatchObject({
      status: 'failed',
      error: 'object store unreachable',
    })
    const missing = '00000000-0000-4000-8000-000000000000'
    await expect(repos.dataRequests.get(missing)).rejects.toBeInstanceOf(DataRequestNotFoundError)
    await expect(repos.dataRequests.complete(missing, {})).rejects.toBeInstanceOf(DataRequestNotFoundError)
    await expect(repos.dataRequests.fail(missing, 'x')).rejects.toBeInstanceOf(DataRequestNotFoundError)
  })
})
