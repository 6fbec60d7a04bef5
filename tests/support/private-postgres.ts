/**
 * @module A PostgreSQL cluster of a test's own (`initdb` into a temp dir, `postgres` on a free port as a child
 * process, trust auth), for tests that stop, restart or break the database — never the machine's shared
 * server. Run as root, the server runs as the `postgres` user (PostgreSQL refuses root). With `tls` it also
 * accepts TLS (`ssl=on`) with the given certificate; plain connections stay allowed, so callers choose per client.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import postgres from 'postgres'
import { freePort } from './free-port.ts'

export interface PrivatePostgres {
  port: number
  /** URL of a database (default `postgres`). */
  url(database?: string): string
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>
  /** Fast shutdown (SIGINT); resolves once the server has exited. */
  stop(): Promise<void>
  /** Starts the server again on the same port and data. */
  start(): Promise<void>
  /** Stops the server and removes its files. Idempotent. */
  close(): Promise<void>
}

/** The newest `/usr/lib/postgresql/<v>/bin` that has `initdb`. */
export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] ? join(base, versions[0], 'bin') : undefined
}

/** Runs as the `postgres` user when we are root (initdb and postgres refuse root). */
function asServerUser(argv: string[]): string[] {
  return process.getuid?.() === 0
    ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--', ...argv]
    : argv
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const run = (flag: string) => Number(Bun.spawnSync(['id', flag, 'postgres']).stdout.toString().trim())
  return { uid: run('-u'), gid: run('-g') }
}

export interface PrivatePostgresOptions {
  /** Server certificate (PEM, may include the chain) and its key: turns `ssl` on. */
  tls?: { certFile: string; keyFile: string }
}

/** Copies the certificate and key next to the cluster, owned by the server user: PostgreSQL refuses a key others can read. */
function installServerTls(
  root: string,
  tls: { certFile: string; keyFile: string },
  ids?: { uid: number; gid: number },
) {
  const certFile = join(root, 'server.crt')
  const keyFile = join(root, 'server.key')
  copyFileSync(tls.certFile, certFile)
  copyFileSync(tls.keyFile, keyFile)
  chmodSync(keyFile, 0o600)
  if (ids) for (const file of [certFile, keyFile]) chownSync(file, ids.uid, ids.gid)
  return ['-c', 'ssl=on', '-c', `ssl_cert_file=${certFile}`, '-c', `ssl_key_file=${keyFile}`]
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir()
  if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql')
  const root = mkdtempSync(join(tmpdir(), 'olchat-pg-'))
  const data = join(root, 'data')
  const sockets = join(root, 'sock')
  const ids = postgresIds()
  if (ids) chownSync(root, ids.uid, ids.gid)
  const init = Bun.spawnSync(
    asServerUser([
      join(bin, 'initdb'),
      '-D',
      data,
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]),
    { stdout: 'pipe', stderr: 'pipe' },
  )
  if (init.exitCode !== 0) {
    rmSync(root, { recursive: true, force: true })
    throw new Error(`initdb failed: ${init.stderr.toString()}`)
  }
  Bun.spawnSync(asServerUser(['mkdir', '-p', sockets]))
  const tlsSettings = options.tls ? installServerTls(root, options.tls, ids) : []
  const port = await freePort()
  let child: Subprocess | undefined
  let closed = false
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`

  async function start(): Promise<void> {
    child = Bun.spawn(
      asServerUser([
        join(bin!, 'postgres'),
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        sockets,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=200',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        ...tlsSettings,
      ]),
      { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
    )
    const deadline = Date.now() + 20_000
    for (;;) {
      const probe = postgres(url(), { max: 1, connect_timeout: 2, onnotice: () => {} })
      try {
        await probe`select 1`
        return
      } catch (error) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`private PostgreSQL did not start: ${String(error)}`)
        }
        await Bun.sleep(100)
      } finally {
        await probe.end({ timeout: 1 })
      }
    }
  }

  async function stop(): Promise<void> {
    const running = child
    child = undefined
    if (!running || running.exitCode !== null) return
    running.kill('SIGINT')
    await running.exited
  }

  await start()
  killOnExit(() => child)
  return {
    port,
    url,
    async createDatabase(name) {
      const admin = postgres(url(), { max: 1, onnotice: () => {} })
      try {
        await admin`create database ${admin(name)}`
      } finally {
        await admin.end({ timeout: 1 })
      }
      return url(name)
    },
    stop,
    start,
    async close() {
      if (closed) return
      closed = true
      await stop()
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/** A last resort when the test process ends without `close()`: no server is left behind. */
export function killOnExit(current: () => Subprocess | undefined): void {
  process.once('exit', () => {
    const child = current()
    if (child && child.exitCode === null) child.kill('SIGKILL')
  })
}
