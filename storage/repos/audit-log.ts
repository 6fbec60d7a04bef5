/**
 * @module `audit_log`: append-only trail of security-relevant actions (P2), purged after 30 days (R5).
 *
 * Tamper evidence: each entry stores `hash = sha256(prev_hash || canonical JSON of the entry)`. Appends take
 * a transaction-scoped advisory lock, so concurrent appenders chain one after the other and id order is
 * chain order. A purge records the hash of the last purged entry in `audit_anchor`, where verification of
 * the remaining chain starts. (Dropping the newest entries is not detectable from the table alone.)
 */
import { createHash } from 'node:crypto'
import type { Sql, Tx } from '../db.ts'
import { jsonParam, parseJson, type Queryable } from './common.ts'

export interface AuditEntryInput {
  /** Keyed hash or member id of the portal; never its address once it is deleted (D5). */
  portalRef?: string | null
  actor: string
  actorRole?: string | null
  action: string
  target?: string | null
  sourceIp?: string | null
  details?: Record<string, unknown>
}

export interface AuditEntry {
  id: string
  at: Date
  portalRef: string | null
  actor: string
  actorRole: string | null
  action: string
  target: string | null
  sourceIp: string | null
  details: Record<string, unknown>
  prevHash: Buffer | null
  hash: Buffer
}

export type ChainVerification =
  | { ok: true; checked: number }
  | { ok: false; checked: number; brokenAt: string; reason: string }

type AuditRow = Omit<AuditEntry, 'details'> & { details: string }

const PAGE = 1000

/** JSON with keys sorted at every level: the same entry always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`
}

export function chainHash(prevHash: Uint8Array | null, entry: Omit<AuditEntry, 'id' | 'prevHash' | 'hash'>) {
  const content = canonicalJson({ ...entry, at: entry.at.toISOString() })
  return createHash('sha256')
    .update(prevHash ?? new Uint8Array())
    .update(content)
    .digest()
}

const toEntry = (row: AuditRow): AuditEntry => ({ ...row, details: parseJson(row.details) })

export class AuditLogRepository {
  constructor(private readonly sql: Sql) {}

  /** Appends an entry; pass the caller's transaction so the entry commits (or not) with the action. */
  async append(input: AuditEntryInput, tx?: Tx): Promise<AuditEntry> {
    if (!tx) return this.sql.begin((inner) => this.append(input, inner))
    await tx`select pg_advisory_xact_lock(hashtext('olchat.audit_log'))`
    // Time from the database clock after the lock: chain order and time order agree across instances.
    const [head] = await tx<{ at: Date; prevHash: Buffer | null }[]>`
      select date_trunc('milliseconds', clock_timestamp()) as at, coalesce(
        (select hash from audit_log order by id desc limit 1),
        (select hash from audit_anchor where id = 1)
      ) as prev_hash`
    const entry = {
      at: head!.at,
      portalRef: input.portalRef ?? null,
      actor: input.actor,
      actorRole: input.actorRole ?? null,
      action: input.action,
      target: input.target ?? null,
      sourceIp: input.sourceIp ?? null,
      // Hash what jsonb will give back: drops undefined, turns dates into strings.
      details: JSON.parse(JSON.stringify(input.details ?? {})) as Record<string, unknown>,
    }
    const hash = chainHash(head!.prevHash, entry)
    const [row] = await tx<AuditRow[]>`
      insert into audit_log (
        at, portal_ref, actor, actor_role, action, target, source_ip, details, prev_hash, hash
      )
      values (
        ${entry.at}, ${entry.portalRef}, ${entry.actor}, ${entry.actorRole}, ${entry.action}, ${entry.target},
        ${entry.sourceIp}, ${jsonParam(tx, entry.details)}::jsonb, ${head!.prevHash}, ${hash}
      )
      returning id, at, portal_ref, actor, actor_role, action, target, source_ip, details::text as details,
        prev_hash, hash`
    return toEntry(row!)
  }

  /** Newest first. */
  async listByPortal(
    portalRef: string,
    { limit = 100, beforeId }: { limit?: number; beforeId?: string } = {},
    db: Queryable = this.sql,
  ): Promise<AuditEntry[]> {
    const rows = await db<AuditRow[]>`
      select ${this.#columns(db)} from audit_log
      where portal_ref = ${portalRef} ${beforeId === undefined ? db`` : db`and id < ${beforeId}`}
      order by id desc limit ${limit}`
    return rows.map(toEntry)
  }

  /** Recomputes the whole chain from the anchor (or the first entry) on. */
  async verifyChain(db: Queryable = this.sql): Promise<ChainVerification> {
    const [anchor] = await db<{ lastId: string; hash: Buffer }[]>`
      select last_id, hash from audit_anchor where id = 1`
    let prev: Buffer | null = anchor?.hash ?? null
    let lastId = anchor?.lastId ?? '0'
    let checked = 0
    for (;;) {
      const rows = await db<AuditRow[]>`
        select ${this.#columns(db)} from audit_log where id > ${lastId} order by id limit ${PAGE}`
      for (const row of rows) {
        const entry = toEntry(row)
        const fail = (reason: string) => ({ ok: false as const, checked, brokenAt: entry.id, reason })
        if (!sameBytes(entry.prevHash, prev)) return fail('prev_hash does not match the previous entry')
        const { id: _id, prevHash: _prev, hash, ...content } = entry
        if (!sameBytes(hash, chainHash(prev, content))) return fail('hash does not match the entry')
        prev = hash
        lastId = entry.id
        checked++
      }
      if (rows.length < PAGE) return { ok: true, checked }
    }
  }

  /**
   * R5: deletes the oldest entries up to the first one at or after `cutoff` (the chain is purged as a
   * prefix) and anchors the hash of the last deleted one. @returns how many were deleted.
   */
  async purgeOlderThan(cutoff: Date, tx?: Tx): Promise<number> {
    if (!tx) return this.sql.begin((inner) => this.purgeOlderThan(cutoff, inner))
    await tx`select pg_advisory_xact_lock(hashtext('olchat.audit_log'))`
    const [row] = await tx<{ purged: number }[]>`
      with doomed as (
        delete from audit_log
        where id < coalesce((select min(id) from audit_log where at >= ${cutoff}), 9223372036854775807)
        returning id, hash
      ),
      last as (select id, hash from doomed order by id desc limit 1),
      anchored as (
        insert into audit_anchor (id, last_id, hash, purged_count)
        select 1, last.id, last.hash, (select count(*) from doomed) from last
        on conflict (id) do update set
          last_id = excluded.last_id,
          hash = excluded.hash,
          purged_count = audit_anchor.purged_count + excluded.purged_count,
          updated_at = now()
      )
      select count(*)::int as purged from doomed`
    return row!.purged
  }

  #columns(db: Queryable) {
    return db`
      id, at, portal_ref, actor, actor_role, action, target, source_ip, details::text as details,
      prev_hash, hash`
  }
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  return Buffer.compare(a, b) === 0
}
