/**
 * @module S5: the S3 file store works over https against s3rver serving a certificate from a throwaway CA,
 * configured the way an operator does it (`S3_ENDPOINT=https://…`, `S3_CA_FILE`), and refuses the same endpoint
 * when the CA is not trusted. s3rver needs no server install, so this runs on both backends.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Readable } from 'node:stream'
import { loadConfig } from '../../src/config/load.ts'
import { S3FileStore } from '../../storage/files/s3-file-store.ts'
import { startS3rver, type TestS3 } from '../support/s3rver.ts'
import { createTestCa, opensslMissing, type TestCa } from '../support/tls-ca.ts'

const skipReason = opensslMissing()

// The reason a suite does not run is in its name, so the test output says why.
describe.skipIf(skipReason !== undefined)(
  `S5: S3 over https${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let ca: TestCa
    let s3: TestS3
    const stores: S3FileStore[] = []

    beforeAll(async () => {
      ca = createTestCa()
      const issued = ca.issue('s3', ['IP:127.0.0.1'])
      s3 = await startS3rver({ tls: { cert: issued.cert, key: await Bun.file(issued.keyFile).text() } })
    })

    afterAll(async () => {
      for (const store of stores) store.close()
      await s3?.stop()
      ca?.remove()
    })

    function storeFor(extra: Record<string, string>): S3FileStore {
      const config = loadConfig({
        S3_BUCKET: s3.bucket,
        S3_ENDPOINT: s3.endpoint,
        S3_REGION: s3.region,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        ...extra,
      })
      if (config.files.kind !== 's3') throw new Error('expected the S3 store')
      const store = new S3FileStore(config.files)
      stores.push(store)
      return store
    }

    test('S5: with S3_CA_FILE the store puts, reads back and deletes over https', async () => {
      expect(s3.endpoint).toStartWith('https://')
      const store = storeFor({ S3_CA_FILE: ca.certFile })
      await store.check()
      const body = 'a file in transfer, sent over TLS'
      expect(await store.put('tls/one.txt', Readable.from([Buffer.from(body)]), { size: body.length })).toBe(
        body.length,
      )
      const read = await store.get('tls/one.txt')
      if (!read) throw new Error('the object was not found')
      expect(Buffer.concat(await read.toArray()).toString()).toBe(body)
      expect(await store.deleteByPrefix('tls/')).toBe(1)
    })

    test('S5: without S3_CA_FILE the same endpoint fails certificate verification', async () => {
      const store = storeFor({})
      await expect(store.check()).rejects.toThrow(/certificate/i)
    })

    test('S5: a CA that did not sign the server certificate is refused too', async () => {
      const other = createTestCa('Some other CA')
      try {
        const store = storeFor({ S3_CA_FILE: other.certFile })
        await expect(store.check()).rejects.toThrow(/certificate/i)
      } finally {
        other.remove()
      }
    })
  },
)
