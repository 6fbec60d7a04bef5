/**
 * @module A TLS-only `redis-server` of a test's own (PRIVACY S5): the plain port is off, so only a TLS client
 * gets an answer. Clients need no certificate of their own.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.ts'
import { killOnExit } from './private-postgres.ts'

export interface TlsRedis {
  /** `rediss://127.0.0.1:<port>` */
  url: string
  close(): Promise<void>
}

export async function startTlsRedis(tls: {
  certFile: string
  keyFile: string
  caFile: string
}): Promise<TlsRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'olchat-redis-tls-'))
  const child = Bun.spawn(
    ['redis-server', '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1']
      .concat([
        '--tls-cert-file',
        tls.certFile,
        '--tls-key-file',
        tls.keyFile,
        '--tls-ca-cert-file',
        tls.caFile,
      ])
      .concat(['--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir]),
    { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
  )
  killOnExit(() => child)
  let output = ''
  const decoder = new TextDecoder()
  const ready = (async () => {
    for await (const chunk of child.stdout) {
      output += decoder.decode(chunk, { stream: true })
      if (output.includes('Ready to accept connections')) return true
    }
    return false
  })()
  if (!(await Promise.race([ready, Bun.sleep(10_000).then(() => false)]))) {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw new Error(
      `redis-server with TLS did not start:\n${output}${await new Response(child.stderr).text()}`,
    )
  }
  return {
    url: `rediss://127.0.0.1:${port}`,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM')
      await child.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
