/**
 * @module `audit_log`: append-only trail of security-relevant actions (P2), purged after 30 days (R5).
 *
 * Tamper evidence: each entry has a gap-free position `seq` and stores
 * `hash = sha256(prev_hash || canonical JSON of the entry)`, so an edited, removed or reordered entry breaks
 * the chain. `audit_chain_head` holds the position and hash of the newest entry: an append locks that row
 * (FOR UPDATE) and moves it in the caller's transaction, which serialises appends across processes and lets
 * verification notice entries missing at the end. A purge records the position and hash of the last purged
 * entry in `audit_anchor`, where verification of the remaining chain starts. Someone able to rewrite the
 * head row as well can still cut the end off; operators can keep the head elsewhere (`head()`; the
 * `audit-verify` command prints it).
 */
import { createHash } from 'node:crypto'
import type { Sql, Tx } from '../db.ts'
import { jsonParam, parseJson, type Queryable } from './common.ts'

export interface AuditEntryInput {
  /** Keyed hash of the portal; never its address or member id in clear (D5). */
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
  /** Position in the chain: 1, 2, 3 … without gaps (purged entries keep their numbers). */
  seq: string
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

/** The newest entry (or, with everything purged, the last purged one); seq 0 and null: nothing yet. */
export interface ChainHead {
  seq: string
  hash: Buffer | null
}

export type ChainVerification =
  | { ok: true; checked: number }
  | { ok: false; checked: number; brokenAt: string; reason: string }

type AuditRow = Omit<AuditEntry, 'details'> & { details: string }

/** What the hash covers: the entry without its id, position and hashes (the links bind the order). */
export type HashedContent = Omit<AuditEntry, 'id' | 'seq' | 'prevHash' | 'hash'>

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

export function chainHash(prevHash: Uint8Array | null, entry: HashedContent): Buffer {
  const content = canonicalJson({ ...entry, at: entry.at.toISOString() })
  return createHash('sha256')
    .update(prevHash ?? new Uint8Array())
    .update(content)
    .digest()
}

const toEntry = (row: AuditRow): AuditEntry => ({
  ...row,
  seq: String(row.seq),
  details: parseJson(row.details),
})

export class AuditLogRepository {
  constructor(private readonly sql: Sql) {}

  /** Appends an entry; pass the caller's transaction so the entry commits (or not) with the action. */
  async append(input: AuditEntryInput, tx?: Tx): Promise<AuditEntry> {
    if (!tx) return this.sql.begin((inner) => this.append(input, inner))
    // The row lock serialises appenders; under READ COMMITTED the locked read sees the newest head.
    const [head] = await tx<{ seq: string; hash: Buffer | null; at: Date }[]>`
      select seq::text as seq, hash, date_trunc('milliseconds', clock_timestamp()) as at
      from audit_chain_head where id = 1 for update`
    if (!head) throw new Error('audit_chain_head is missing: the database is not migrated')
    // Time from the database clock after the lock: chain order and time order agree across instances.
    const entry: HashedContent = {
      at: head.at,
      portalRef: input.portalRef ?? null,
      actor: input.actor,
      actorRole: input.actorRole ?? null,
      action: input.action,
      target: input.target ?? null,
      sourceIp: input.sourceIp ?? null,
      // Hash what jsonb will give back: drops undefined, turns dates into strings.
      details: JSON.parse(JSON.stringify(input.details ?? {})) as Record<string, unknown>,
    }
    const hash = chainHash(head.hash, entry)
    const seq = (BigInt(head.seq) + 1n).toString()
    const [row] = await tx<AuditRow[]>`
      insert into audit_log (
        seq, at, portal_ref, actor, actor_role, action, target, source_ip, details, prev_hash, hash
      )
      values (
        ${seq}, ${entry.at}, ${entry.portalRef}, ${entry.actor}, ${entry.actorRole}, ${entry.action},
        ${entry.target}, ${entry.sourceIp}, ${jsonParam(tx, entry.details)}::jsonb, ${head.hash}, ${hash}
      )
      returning ${this.#columns(tx)}`
    await tx`update audit_chain_head set seq = ${seq}, hash = ${hash}, updated_at = now() where id = 1`
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

  async head(db: Queryable = this.sql): Promise<ChainHead> {
    const [row] = await db<ChainHead[]>`select seq::text as seq, hash from audit_chain_head where id = 1`
    return row ?? { seq: '0', hash: null }
  }

  /**
   * Recomputes the whole chain from the anchor (or the first entry) on: every link, every hash, positions
   * without gaps, and the end of the chain equal to the head. Pass a transaction to verify one snapshot.
   */
  async verifyChain(db: Queryable = this.sql): Promise<ChainVerification> {
    // Head first: entries appended while this runs lie beyond it and are left for the next run.
    const head = await this.head(db)
    const [anchor] = await db<{ lastSeq: string; hash: Buffer }[]>`
      select last_seq::text as last_seq, hash from audit_anchor where id = 1`
    let prev: Buffer | null = anchor?.hash ?? null
    let lastSeq = BigInt(anchor?.lastSeq ?? '0')
    let checked = 0
    for (;;) {
      const rows = await db<AuditRow[]>`
        select ${this.#columns(db)} from audit_log
        where seq > ${lastSeq.toString()} and seq <= ${head.seq}
        order by audit_log.seq limit ${PAGE}`
      for (const row of rows) {
        const entry = toEntry(row)
        const fail = (reason: string) => ({ ok: false as const, checked, brokenAt: entry.id, reason })
        if (!sameBytes(entry.prevHash, prev)) return fail('prev_hash does not match the previous entry')
        if (BigInt(entry.seq) !== lastSeq + 1n) return fail(`seq ${lastSeq + 1n} of the chain is missing`)
        const { id: _id, seq: _seq, prevHash: _prev, hash, ...content } = entry
        if (!sameBytes(hash, chainHash(prev, content))) return fail('hash does not match the entry')
        prev = hash
        lastSeq = BigInt(entry.seq)
        checked++
      }
      if (rows.length < PAGE) break
    }
    if (BigInt(head.seq) !== lastSeq || !sameBytes(head.hash, prev)) {
      return {
        ok: false,
        checked,
        brokenAt: 'head',
        reason: `the chain ends at entry ${lastSeq}, the head says ${head.seq}: entries are missing or altered`,
      }
    }
    return { ok: true, checked }
  }

  /**
   * R5: deletes the oldest entries up to the first one at or after `cutoff` (the chain is purged as a
   * prefix) and anchors the position and hash of the last deleted one. @returns how many were deleted.
   */
  async purgeOlderThan(cutoff: Date, tx?: Tx): Promise<number> {
    if (!tx) return this.sql.begin((inner) => this.purgeOlderThan(cutoff, inner))
    // Same lock as appends: a purge never races an append over where the chain starts.
    await tx`select seq from audit_chain_head where id = 1 for update`
    const [row] = await tx<{ purged: number }[]>`
      with doomed as (
        delete from audit_log
        where seq < coalesce((select min(seq) from audit_log where at >= ${cutoff}), 9223372036854775807)
        returning id, seq, hash
      ),
      last as (select id, seq, hash from doomed order by seq desc limit 1),
      anchored as (
        insert into audit_anchor (id, last_id, last_seq, hash, purged_count)
        select 1, last.id, last.seq, last.hash, (select count(*) from doomed) from last
        on conflict (id) do update set
          last_id = excluded.last_id,
          last_seq = excluded.last_seq,
          hash = excluded.hash,
          purged_count = audit_anchor.purged_count + excluded.purged_count,
          updated_at = now()
      )
      select count(*)::int as purged from doomed`
    return row!.purged
  }

  #columns(db: Queryable) {
    return db`
      id, seq::text as seq, at, portal_ref, actor, actor_role, action, target, source_ip,
      details::text as details, prev_hash, hash`
  }
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  return Buffer.compare(a, b) === 0
}
