/**
 * @module S5: the Redis cache speaks TLS for real. Starts a throwaway TLS-only redis-server with a
 * self-signed certificate made by `openssl` and proves the handshake (and its refusals) end to end.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { RedisCache } from '../../storage/cache/redis-cache.ts'
import { testBackendSet } from '../support/backends.ts'

describe.if(testBackendSet() === 'real')('S5: RedisCache over TLS (rediss://)', () => {
  let dir: string
  let ca: string
  let port: number
  let server: Subprocess<'ignore', 'pipe', 'pipe'> | undefined
  const opened: RedisCache[] = []
  const open = (url: string, options: Partial<ConstructorParameters<typeof RedisCache>[0]> = {}) => {
    const cache = new RedisCache({ url, keyPrefix: 'olchat-tls-test:', ...options })
    opened.push(cache)
    return cache
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'olchat-redis-tls-'))
    const cert = join(dir, 'cert.pem')
    const key = join(dir, 'key.pem')
    // One self-signed certificate serves as both the server's and the trusted CA; valid for the IP we dial.
    const openssl = Bun.spawnSync(
      ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
        .concat(['-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'])
        .concat(['-addext', 'subjectAltName=IP:127.0.0.1']),
      { stdout: 'pipe', stderr: 'pipe' },
    )
    if (openssl.exitCode !== 0) throw new Error(`openssl failed: ${openssl.stderr.toString()}`)
    ca = await readFile(cert, 'utf8')
    port = await freePort()
    // TLS only (--port 0 disables the plain port); nothing persisted; clients need no certificate.
    server = Bun.spawn(
      ['redis-server', '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1']
        .concat(['--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert])
        .concat(['--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir]),
      { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
    )
    await waitForReady(server)
  })

  afterAll(async () => {
    for (const cache of opened) await cache.close()
    if (server) {
      server.kill()
      await server.exited
    }
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  test('S5: rediss:// trusting the CA sets and gets', async () => {
    const cache = open(`rediss://127.0.0.1:${port}`, { tls: { ca } })
    await cache.ping()
    await cache.set('greeting', 'hello over tls', 10_000)
    expect(await cache.get('greeting')).toBe('hello over tls')
    expect(await cache.increment('n', 2)).toBe(2)
    expect(await cache.deleteByPrefix('')).toBe(2)
  })

  test('S5: plain redis:// to the TLS port fails', async () => {
    const cache = open(`redis://127.0.0.1:${port}`)
    await expect(cache.ping()).rejects.toThrow()
  })

  test('S5: rediss:// without trusting the CA fails certificate verification', async () => {
    const errors: Error[] = []
    const cache = open(`rediss://127.0.0.1:${port}`, { onError: (error) => errors.push(error) })
    await expect(cache.ping()).rejects.toThrow()
    expect(errors.some((error) => /certificate/i.test(error.message))).toBe(true)
  })

  test('S5: a trusted certificate for another name fails the identity check', async () => {
    const errors: Error[] = []
    const cache = open(`rediss://127.0.0.1:${port}`, {
      tls: { ca, servername: 'cache.example' },
      onError: (error) => errors.push(error),
    })
    await expect(cache.ping()).rejects.toThrow()
    expect(errors.some((error) => /does not match/i.test(error.message))).toBe(true)
  })
})

/** Resolves once redis-server logs that it accepts connections; fails with its output if it exits first. */
async function waitForReady(server: Subprocess<'ignore', 'pipe', 'pipe'>): Promise<void> {
  let output = ''
  const decoder = new TextDecoder()
  const ready = (async () => {
    for await (const chunk of server.stdout) {
      output += decoder.decode(chunk, { stream: true })
      if (output.includes('Ready to accept connections')) return true
    }
    return false
  })()
  const timeout = Bun.sleep(10_000).then(() => false)
  if (!(await Promise.race([ready, timeout]))) {
    server.kill()
    const stderr = await new Response(server.stderr).text()
    throw new Error(`redis-server with TLS did not start:\n${output}${stderr}`)
  }
}

/** A port nothing listens on (the kernel picked it free a moment ago). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
