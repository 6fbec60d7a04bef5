/**
 * @module A `redis-server` of a test's own (free port, no persistence), for tests that flush or restart Redis
 * — never the machine's shared server.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'
import { freePort } from './free-port.ts'
import { killOnExit } from './private-postgres.ts'

export interface PrivateRedis {
  url: string
  flushAll(): Promise<void>
  close(): Promise<void>
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'olchat-redis-'))
  const child = Bun.spawn(
    [
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
  )
  killOnExit(() => child)
  const url = `redis://127.0.0.1:${port}`
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 })
  client.on('error', () => {})
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      if (client.status === 'wait') await client.connect()
      await client.ping()
      break
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        client.disconnect()
        child.kill('SIGKILL')
        throw new Error(`private redis-server did not start: ${String(error)}`)
      }
      await Bun.sleep(100)
    }
  }
  let closed = false
  return {
    url,
    async flushAll() {
      await client.flushall()
    },
    async close() {
      if (closed) return
      closed = true
      client.disconnect()
      if (child.exitCode === null) child.kill('SIGTERM')
      await child.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
