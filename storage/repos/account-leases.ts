/**
 * @module `account_leases` and `instances`: which Olchat instance runs each messenger account (scale-out).
 *
 * A lease is held by one instance id until `expires_at`, renewed by heartbeat. Every acquisition raises the
 * account's fencing token, so a write guarded by `assertFence` inside a transaction fails once another
 * instance has taken the account. Every time is the database's `now()`: instances with skewed clocks agree
 * on when a lease expires. Instance ids must be unique per process start (`newInstanceId`): a restarted
 * process that reused its id would look like the owner of leases it knows nothing about.
 */
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

/** A lease as its holder knows it. The fencing token is an opaque decimal string (int8). */
export interface HeldLease {
  accountId: string
  fencingToken: string
  expiresAt: Date
}

export interface AccountLease {
  accountId: string
  owner: string | null
  fencingToken: string
  expiresAt: Date | null
  acquiredAt: Date | null
  renewedAt: Date | null
  /** Owned and not expired by the database clock when read. */
  live: boolean
}

export interface InstanceRow {
  id: string
  startedAt: Date
  heartbeatAt: Date
}

export type LeaseLostReason = 'superseded' | 'released' | 'expired' | 'missing'

/** A guarded write found that this holder's lease is gone: roll back and stop working on the account. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError'
  constructor(
    readonly accountId: string,
    readonly fencingToken: string,
    readonly reason: LeaseLostReason,
  ) {
    super(`lease on account ${accountId} with fencing token ${fencingToken} is lost (${reason})`)
  }
}

/** `host-pid-random`: readable in the table, never reused by a restarted process. */
export function newInstanceId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
}

const interval = (ms: number) => `${Math.max(0, Math.round(ms))} milliseconds`

export class AccountLeaseRepository {
  constructor(private readonly sql: Sql) {}

  /**
   * Takes up to `limit` leases that are free (never held, released) or expired, for `ttlMs`, each with a
   * new fencing token. Rows another instance is taking at this instant are skipped, and a live lease is never
   * taken. Accounts that are `disconnected` need no process and are left alone.
   */
  async acquireAvailable(
    instanceId: string,
    limit: number,
    ttlMs: number,
    db: Queryable = this.sql,
  ): Promise<HeldLease[]> {
    if (limit <= 0) return []
    return db<HeldLease[]>`
      update account_leases l
      set owner = ${instanceId},
        fencing_token = l.fencing_token + 1,
        acquired_at = now(),
        renewed_at = now(),
        expires_at = now() + ${interval(ttlMs)}::interval
      from (
        select f.account_id from account_leases f
        join accounts a on a.id = f.account_id
        where (f.expires_at is null or f.expires_at <= now()) and a.health <> 'disconnected'
        order by f.expires_at nulls first, f.account_id
        limit ${limit}
        for update of f skip locked
      ) free
      where l.account_id = free.account_id and (l.expires_at is null or l.expires_at <= now())
      returning l.account_id, l.fencing_token::text as fencing_token, l.expires_at`
  }

  /**
   * Extends the given leases by `ttlMs` where this instance still holds them with the same fencing token.
   * A lease that expired and was taken meanwhile has a new token and is not renewed; one that expired
   * untouched is (nobody else held it in between).
   * @returns the leases that are still ours, with their new expiry.
   */
  async renew(
    instanceId: string,
    leases: readonly Pick<HeldLease, 'accountId' | 'fencingToken'>[],
    ttlMs: number,
    db: Queryable = this.sql,
  ): Promise<HeldLease[]> {
    if (leases.length === 0) return []
    const ids = leases.map((lease) => lease.accountId)
    const tokens = leases.map((lease) => lease.fencingToken)
    return db<HeldLease[]>`
      update account_leases l
      set renewed_at = now(), expires_at = now() + ${interval(ttlMs)}::interval
      from unnest(${db.array(ids)}::uuid[], ${db.array(tokens)}::bigint[]) as h(account_id, fencing_token)
      where l.account_id = h.account_id and l.fencing_token = h.fencing_token and l.owner = ${instanceId}
      returning l.account_id, l.fencing_token::text as fencing_token, l.expires_at`
  }

  /**
   * Frees this instance's leases at once (all of them, or the given accounts) so another instance can take
   * them on its next attempt. The token stays; the next holder gets a higher one.
   * @returns the account ids released.
   */
  async release(
    instanceId: string,
    accountIds?: readonly string[],
    db: Queryable = this.sql,
  ): Promise<string[]> {
    if (accountIds?.length === 0) return []
    const rows = accountIds
      ? await db<{ accountId: string }[]>`
          update account_leases set owner = null, expires_at = null
          where owner = ${instanceId} and account_id = any(${db.array([...accountIds])}::uuid[])
          returning account_id`
      : await db<{ accountId: string }[]>`
          update account_leases set owner = null, expires_at = null
          where owner = ${instanceId}
          returning account_id`
    return rows.map((row) => row.accountId)
  }

  /**
   * Guards a write: call inside the writing transaction, passing it as `db`. Passes only while the lease is
   * live with this token, and share-locks the row until the transaction ends, so no other instance can take
   * the account between this check and the commit.
   * @throws LeaseLostError when the token is stale, the lease released or expired.
   */
  async assertFence(accountId: string, fencingToken: string, db: Queryable = this.sql): Promise<void> {
    const [row] = await db<{ owner: string | null; fencingToken: string; live: boolean }[]>`
      select owner, fencing_token::text as fencing_token, coalesce(expires_at > now(), false) as live
      from account_leases where account_id = ${accountId}
      for share`
    const reason: LeaseLostReason | undefined = !row
      ? 'missing'
      : row.fencingToken !== fencingToken
        ? 'superseded'
        : row.owner === null
          ? 'released'
          : row.live
            ? undefined
            : 'expired'
    if (reason) throw new LeaseLostError(accountId, fencingToken, reason)
  }

  /** Live leases of an instance. */
  async listOwned(instanceId: string, db: Queryable = this.sql): Promise<HeldLease[]> {
    return db<HeldLease[]>`
      select account_id, fencing_token::text as fencing_token, expires_at from account_leases
      where owner = ${instanceId} and expires_at > now()
      order by account_id`
  }

  /** Instance id of the live holder, or null when the account is free or its lease expired. */
  async owner(accountId: string, db: Queryable = this.sql): Promise<string | null> {
    const [row] = await db<{ owner: string }[]>`
      select owner from account_leases where account_id = ${accountId} and expires_at > now()`
    return row?.owner ?? null
  }

  async find(accountId: string, db: Queryable = this.sql): Promise<AccountLease | undefined> {
    const [row] = await db<AccountLease[]>`
      select account_id, owner, fencing_token::text as fencing_token, expires_at, acquired_at, renewed_at,
        coalesce(expires_at > now(), false) as live
      from account_leases where account_id = ${accountId}`
    return row
  }

  /** Records that the instance is alive; rows of instances silent for a day are removed on the way. */
  async heartbeat(instanceId: string, db: Queryable = this.sql): Promise<void> {
    await db`
      with gone as (
        delete from instances where heartbeat_at < now() - interval '1 day' and id <> ${instanceId}
      )
      insert into instances (id) values (${instanceId})
      on conflict (id) do update set heartbeat_at = now()`
  }

  /** Instances with a heartbeat in the last `withinMs`. */
  async liveInstances(withinMs: number, db: Queryable = this.sql): Promise<InstanceRow[]> {
    return db<InstanceRow[]>`
      select * from instances where heartbeat_at > now() - ${interval(withinMs)}::interval order by id`
  }

  /** On graceful shutdown. */
  async forgetInstance(instanceId: string, db: Queryable = this.sql): Promise<void> {
    await db`delete from instances where id = ${instanceId}`
  }
}
