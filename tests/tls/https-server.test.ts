/**
 * @module S5: Olchat's own HTTP server speaks TLS. Olchat runs as a real process (`bun src/main.ts`) with
 * `HTTPS_CERT_FILE`/`HTTPS_KEY_FILE` from a throwaway CA; a client trusting that CA gets `/healthz`, one that
 * does not is refused at the handshake, and plain HTTP on the port gets no answer. Only the listener matters
 * here, so the process runs on its embedded defaults on both backends.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { createTestCa, opensslMissing, type TestCa } from '../support/tls-ca.ts'

const skipReason = opensslMissing()

// The reason a suite does not run is in its name, so the test output says why.
describe.skipIf(skipReason !== undefined)(
  `S5: Olchat serves HTTPS${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let ca: TestCa
    let dataDir: string
    let olchat: OlchatProcess
    let port: number

    beforeAll(async () => {
      ca = createTestCa()
      const issued = ca.issue('olchat', ['IP:127.0.0.1', 'DNS:localhost'])
      dataDir = mkdtempSync(join(tmpdir(), 'olchat-https-'))
      olchat = startOlchat({
        OLCHAT_DATA_DIR: dataDir,
        HTTPS_CERT_FILE: issued.certFile,
        HTTPS_KEY_FILE: issued.keyFile,
        LOG_LEVEL: 'info',
      })
      const listening = await olchat.waitForLog((line) => line.msg === 'listening')
      port = Number(listening.port)
      expect(listening.tls).toBe(true)
      expect(listening.publicUrl).toBe(`https://localhost:${port}`)
    })

    afterAll(async () => {
      await olchat?.stop()
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
      ca?.remove()
    })

    test('S5: /healthz over https with the CA answers 200', async () => {
      const response = await fetch(`https://127.0.0.1:${port}/healthz`, { tls: { ca: ca.cert } })
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ status: 'ok' })
      // The certificate names localhost too; the host name is checked, not only the CA.
      expect((await fetch(`https://localhost:${port}/healthz`, { tls: { ca: ca.cert } })).status).toBe(200)
    })

    test('S5: a client that does not trust the CA is refused at the handshake', async () => {
      await expect(fetch(`https://127.0.0.1:${port}/healthz`)).rejects.toThrow(/certificate/i)
    })

    test('S5: plain http on the same port gets no HTTP answer', async () => {
      const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (response) => `answered ${response.status}`,
        (error: Error) => `refused: ${error.message}`,
      )
      expect(plain).toStartWith('refused')
    })
  },
)
