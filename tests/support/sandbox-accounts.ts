/**
 * @module Sandbox accounts for multi-process tests and benchmarks, made without the login dance: the sandbox
 * creates the accounts and a session each (`create-accounts`, `create-session`), the rows are written with
 * the repositories and the session token sealed with the key ring of the Olchat processes, as a completed
 * login would leave them.
 */
import { accountSessionStore } from '../../src/accounts/session-store.ts'
import { SESSION_KEYS } from '../../src/connectors/sandbox/session.ts'
import type { AccountHealth } from '../../storage/repos/accounts.ts'
import type { Repositories } from '../../storage/repos/index.ts'

export interface SeededAccount {
  /** Olchat's account id. */
  id: string
  /** The sandbox's account id. */
  remoteId: number
}

/** The two sandbox control calls needed, over HTTP or on an in-process handle. */
export interface SandboxAccountControl {
  createAccounts(count: number): Promise<Array<{ id: number; phone: string }>>
  createSession(account: number): Promise<string>
}

export async function seedSandboxAccounts(
  repos: Repositories,
  sandbox: SandboxAccountControl,
  {
    portalId,
    count,
    health = 'disconnected',
    concurrency = 50,
  }: {
    portalId: string
    count: number
    /** `disconnected` (the default) keeps every lease keeper away until the test flips it. */
    health?: AccountHealth
    concurrency?: number
  },
): Promise<SeededAccount[]> {
  const created = await sandbox.createAccounts(count)
  const out: SeededAccount[] = []
  const encode = (text: string) => new TextEncoder().encode(text)
  for (let i = 0; i < created.length; i += concurrency) {
    const slice = created.slice(i, i + concurrency)
    const seeded = await Promise.all(
      slice.map(async ({ id, phone }) => {
        const session = await sandbox.createSession(id)
        const row = await repos.accounts.create({
          portalId,
          messenger: 'sandbox',
          health,
          remoteId: String(id),
          displayName: `Account ${id}`,
          phone,
        })
        const store = accountSessionStore(repos.accountSessions, row.id)
        await store.set(SESSION_KEYS.token, encode(session))
        await store.set(SESSION_KEYS.seq, encode('0'))
        return { id: row.id, remoteId: id }
      }),
    )
    out.push(...seeded)
  }
  return out
}
