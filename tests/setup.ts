/**
 * Preloaded by `bun test` (bunfig.toml). With the real backends selected, the PostgreSQL and Redis servers must
 * answer before any suite runs; otherwise stop at once and say how to start them — never fall back silently.
 */
import net from 'node:net'
import { testBackendSet, testPostgresUrl, testRedisUrl } from './support/backends.ts'

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

if (testBackendSet() === 'real') {
  const missing: string[] = []
  if (!(await reachable(testPostgresUrl))) {
    missing.push(
      `PostgreSQL is not answering at ${testPostgresUrl} (TEST_DATABASE_URL). Start it: ` +
        'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    )
  }
  if (!(await reachable(testRedisUrl))) {
    missing.push(
      `Redis is not answering at ${testRedisUrl} (TEST_REDIS_URL). Start it: ` +
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
    )
  }
  if (missing.length > 0) {
    console.error(
      `\nThe test suites need real servers:\n- ${missing.join('\n- ')}\n` +
        'Or run the same suites on the embedded backends: npm run test:embedded\n',
    )
    process.exit(1)
  }
}
