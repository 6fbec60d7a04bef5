/**
 * @module Verifying the audit log's hash chain (P2, D5, R5) as one snapshot: every link and hash from the
 * anchor of the purged prefix to the chain head. Used by `olchat audit-verify`.
 */
import type { Sql } from '../../storage/db.ts'
import { AuditLogRepository, type ChainVerification } from '../../storage/repos/audit-log.ts'

export type AuditChainReport = ChainVerification & {
  /** Position and hash (hex) of the newest entry: worth keeping outside the database to notice a cut end. */
  head: { seq: string; hash: string | null }
  /** Entries purged so far (R5) and the position verification starts after. */
  anchor: { lastSeq: string; purged: string } | null
}

export async function verifyAuditChain(sql: Sql): Promise<AuditChainReport> {
  const repo = new AuditLogRepository(sql)
  // Repeatable read: appends and purges running meanwhile cannot make a sound chain look broken.
  return sql.begin('isolation level repeatable read, read only', async (tx) => {
    const result = await repo.verifyChain(tx)
    const head = await repo.head(tx)
    const [anchor] = await tx<{ lastSeq: string; purged: string }[]>`
      select last_seq::text as last_seq, purged_count::text as purged from audit_anchor where id = 1`
    return {
      ...result,
      head: { seq: head.seq, hash: head.hash ? head.hash.toString('hex') : null },
      anchor: anchor ?? null,
    }
  })
}

/**
 * R5 for the audit log, for the retention sweep: deletes the entries older than `cutoff` as a prefix of the
 * chain and anchors the last one's position and hash. @returns how many were deleted.
 */
export function purgeAuditLog(sql: Sql, cutoff: Date): Promise<number> {
  return new AuditLogRepository(sql).purgeOlderThan(cutoff)
}
