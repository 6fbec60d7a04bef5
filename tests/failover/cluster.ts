/**
 * @module A small Olchat cluster for the scale-out tests (and the relay benchmark): a throwaway database on
 * the real PostgreSQL, the real Redis, the sandbox messenger as its own process, and Olchat processes started
 * with `SANDBOX_URL`. Accounts are made without the login dance: the sandbox's `create-accounts` and
 * `create-session`, rows written with the repositories, the session token sealed with the processes' key ring.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { LEASES_RELEASED_CHANNEL } from '../../storage/notify.ts'
import { createRepositories, type Repositories } from '../../storage/repos/index.ts'
import { testRedisUrl } from '../support/backends.ts'
import { type EmulatorProcess, spawnEmulator } from '../support/emulator-process.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { type SeededAccount, seedSandboxAccounts } from '../support/sandbox-accounts.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const _root = resolve(import.meta.dir, '../..')

export type Emulator = EmulatorProcess<{ url: string; control: string }>

export async function call<T>(base: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base.replace(/\/$/, '')}/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

export interface SandboxStats {
  liveConnections: number
  authKeyDuplicated: number
  connectionsOpened: number
  perAccount: Record<string, { liveConnections: number; authKeyDuplicated: number; sessions?: number }>
}

export type ClusterAccount = SeededAccount

export interface Node {
  name: string
  process: OlchatProcess
  instanceId: string
  pid: number
}

export interface Cluster {
  db: TestDatabase
  repos: Repositories
  sandbox: Emulator
  portalId: string
  keyRing: string
  dataDir: string
  sandboxStats(): Promise<SandboxStats>
  sandboxControl<T>(path: string, body?: unknown): Promise<T>
  /** Accounts created `disconnected` (no process takes them) until `connect` flips them. */
  createAccounts(count: number): Promise<ClusterAccount[]>
  /** Marks the accounts `connecting` and wakes the lease keepers. */
  connect(accounts: readonly ClusterAccount[]): Promise<void>
  startNode(name: string, env?: Record<string, string>): Promise<Node>
  /** Live lease owner per account id (absent: free or expired). */
  owners(): Promise<Map<string, string>>
  /** Account ids by health. */
  health(): Promise<Map<string, string>>
  stop(): Promise<void>
}

export async function startCluster({
  sandboxArgs = [],
  poolMax = 4,
}: {
  sandboxArgs?: string[]
  poolMax?: number
} = {}): Promise<Cluster> {
  const keyRing = `k1:${generateKey()}`
  const db = await createTestDatabase({ poolMax })
  const repos = createRepositories(db.sql, KeyRing.fromText(keyRing))
  const { portal } = await repos.portals.upsert({
    memberId: `failover-${process.pid}-${Date.now().toString(36)}`,
    domain: 'failover.bitrix24.ru',
  })
  const sandbox = await spawnEmulator<{ url: string; control: string }>([
    'tests/emulators/sandbox/main.ts',
    ...sandboxArgs,
  ])
  const dataDir = mkdtempSync(join(tmpdir(), 'olchat-cluster-'))
  const nodes: Node[] = []
  const sandboxControl = <T>(path: string, body?: unknown) =>
    call<T>(`${sandbox.info.url}/_control`, path, body)

  return {
    db,
    repos,
    sandbox,
    portalId: portal.id,
    keyRing,
    dataDir,
    sandboxControl,
    sandboxStats: () => sandboxControl<SandboxStats>('stats'),
    createAccounts: (count) =>
      seedSandboxAccounts(
        repos,
        {
          createAccounts: async (n) =>
            (
              await sandboxControl<{ accounts: Array<{ id: number; phone: string }> }>('create-accounts', {
                count: n,
              })
            ).accounts,
          createSession: async (account) =>
            (await sandboxControl<{ session: string }>('create-session', { account })).session,
        },
        { portalId: portal.id, count },
      ),
    async connect(accounts) {
      await db.sql`
        update accounts set health = 'connecting', health_changed_at = now()
        where id = any(${db.sql.array(accounts.map((a) => a.id))}::uuid[])`
      await db.sql.notify(LEASES_RELEASED_CHANNEL, '')
    },
    async startNode(name, env = {}) {
      const olchat = startOlchat({
        DATABASE_URL: db.url,
        REDIS_URL: testRedisUrl,
        OLCHAT_ENCRYPTION_KEYS: keyRing,
        OLCHAT_DATA_DIR: dataDir,
        SANDBOX_URL: sandbox.info.url,
        LOG_LEVEL: 'info',
        ...env,
      })
      await olchat.waitReady(30_000)
      const started = await olchat.waitForLog((l) => typeof l.instanceId === 'string')
      const node = { name, process: olchat, instanceId: String(started.instanceId), pid: olchat.child.pid }
      nodes.push(node)
      return node
    },
    async owners() {
      const rows = await db.sql<{ accountId: string; owner: string }[]>`
        select account_id, owner from account_leases where owner is not null and expires_at > now()`
      return new Map(rows.map((r) => [r.accountId, r.owner]))
    },
    async health() {
      const rows = await db.sql<{ id: string; health: string }[]>`select id, health from accounts`
      return new Map(rows.map((r) => [r.id, r.health]))
    },
    async stop() {
      for (const node of nodes) {
        const { child } = node.process
        if (child.exitCode !== null || child.signalCode !== null) continue
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        const exited = await Promise.race([child.exited, Bun.sleep(12_000).then(() => undefined)])
        if (exited === undefined) {
          child.kill('SIGKILL')
          await child.exited
        }
      }
      await sandbox.stop()
      await db.drop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
