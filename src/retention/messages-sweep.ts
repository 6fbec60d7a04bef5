/**
 * @module R3: message metadata older than the period. `messages` is partitioned by UTC day of `sent_at`, so
 * whole days past the cutoff go by `DROP TABLE` of their partition — a catalogue change, not row deletes
 * (bench/retention.ts measures it). Each drop is its own transaction with a lock timeout: it needs the
 * parent's ACCESS EXCLUSIVE lock for a moment, and inserts must never queue behind it for long.
 * What is left — the older part of the day the cutoff falls in, and old rows in the default partition — is
 * deleted in block ranges (`ctid` range scans: each statement reads only its slice of the table, none reads
 * what an earlier one already emptied). The message-id maps and the keys of handled MAX updates (I5, also R3)
 * are pruned in row batches.
 */
import type { Sql } from '../../storage/db.ts'
import { cutoffFor } from './periods.ts'
import {
  type BatchBudget,
  budgetOf,
  inBatches,
  type Sweep,
  type SweepDeps,
  tally,
  withClassLock,
} from './sweep.ts'

/** The same key `messages_ensure_partitions` takes (migration 00003): never create and drop at once. */
const PARTITIONS_LOCK = 'olchat.messages_partitions'

/** PostgreSQL's lock_not_available: the lock timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03'

/** An 8 KB heap block holds about this many message rows: a boundary delete reads batchSize rows' worth. */
const ROWS_PER_BLOCK = 60

export class PartitionBusyError extends Error {
  override name = 'PartitionBusyError'
}

interface PartitionBounds {
  name: string
  /** Null for the default partition. */
  lower: Date | null
  upper: Date | null
  blocks: number
}

async function partitions(sql: Sql): Promise<PartitionBounds[]> {
  return sql<PartitionBounds[]>`
    select c.relname as name,
      (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz as lower,
      (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz as upper,
      (pg_relation_size(c.oid) / current_setting('block_size')::int)::int as blocks
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'messages'::regclass
    order by upper nulls last`
}

/** Daily partitions whose upper bound is at or before `cutoff`, oldest first (the default one never). */
export async function expiredPartitions(sql: Sql, cutoff: Date): Promise<string[]> {
  return (await partitions(sql))
    .filter((part) => part.upper !== null && part.upper.getTime() <= cutoff.getTime())
    .map((part) => part.name)
}

/**
 * Drops one partition. @returns the rows it held by the planner's estimate (exact counting would read the
 * whole day), or null when partition maintenance holds its lock (try later).
 * @throws PartitionBusyError when the parent's lock was not granted within `lockTimeoutMs`.
 */
export async function dropPartition(sql: Sql, name: string, lockTimeoutMs: number): Promise<number | null> {
  try {
    return await sql.begin(async (tx) => {
      const [state] = await tx<{ locked: boolean; present: boolean; estimate: number }[]>`
        select set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true) is not null
            and pg_try_advisory_xact_lock(hashtext(${PARTITIONS_LOCK})) as locked,
          to_regclass(${name}) is not null as present,
          coalesce((select greatest(reltuples, 0) from pg_class where oid = to_regclass(${name})), 0)::float8
            as estimate`
      if (!state!.locked) return null
      if (!state!.present) return 0
      await tx`drop table ${tx(name)}`
      return Math.round(state!.estimate)
    })
  } catch (error) {
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) {
      throw new PartitionBusyError(`${name}: the lock on messages was not granted within ${lockTimeoutMs} ms`)
    }
    throw error
  }
}

async function dropExpiredPartitions(deps: SweepDeps, cutoff: Date, budget: BatchBudget) {
  let dropped = 0
  let estimatedRows = 0
  for (const name of await expiredPartitions(deps.sql, cutoff)) {
    if (budget.left <= 0) return { dropped, estimatedRows, more: true }
    budget.left--
    const rows = await dropPartition(deps.sql, name, deps.lockTimeoutMs)
    if (rows === null) return { dropped, estimatedRows, more: true }
    dropped++
    estimatedRows += rows
  }
  return { dropped, estimatedRows, more: false }
}

/** Deletes rows older than `cutoff` from the partition the cutoff falls in and from the default one. */
async function deleteBoundaryRows(deps: SweepDeps, cutoff: Date, budget: BatchBudget) {
  const boundary = (await partitions(deps.sql)).filter(
    (part) =>
      part.lower === null ||
      (part.lower.getTime() < cutoff.getTime() && part.upper!.getTime() > cutoff.getTime()),
  )
  const step = Math.max(1, Math.ceil(deps.batchSize / ROWS_PER_BLOCK))
  let deleted = 0
  for (const part of boundary) {
    for (let block = 0; block < part.blocks; block += step) {
      if (budget.left <= 0) return { deleted, more: true }
      const from = `(${block},0)`
      const to = `(${block + step},0)`
      const touched = await withClassLock(deps, 'R3', async (tx) => {
        const result = await tx`
          delete from ${tx(part.name)}
          where ctid >= ${from}::tid and ctid < ${to}::tid and sent_at < ${cutoff}`
        return result.count
      })
      if (touched === null) return { deleted, more: false }
      // Ranges emptied by an earlier run cost a read of their blocks only: they do not spend the budget.
      if (touched > 0) budget.left--
      deleted += touched
    }
  }
  return { deleted, more: false }
}

export const messagesSweep: Sweep = {
  rule: 'R3',
  name: 'messages',
  intervalMs: 3600_000,
  async run(deps) {
    const cutoff = cutoffFor(deps.periods, 'R3', deps.now())
    const budget = budgetOf(deps)
    const partitionsDropped = await dropExpiredPartitions(deps, cutoff, budget)
    const boundary = await deleteBoundaryRows(deps, cutoff, budget)
    const maps = await inBatches(deps, 'R3', budget, async (tx, limit) => {
      const result = await tx`
        delete from telegram_message_chats where (account_id, msg_id) in (
          select account_id, msg_id from telegram_message_chats where seen_at < ${cutoff} limit ${limit})`
      return result.count
    })
    const maxKeys = await inBatches(deps, 'R3', budget, async (tx, limit) => {
      const result = await tx`
        delete from max_updates where id in (
          select id from max_updates where handled_at < ${cutoff} limit ${limit})`
      return result.count
    })
    return {
      deleted: tally(
        {},
        {
          partitions: partitionsDropped.dropped,
          partitionRowsEstimated: partitionsDropped.estimatedRows,
          messages: boundary.deleted,
          messageChatMaps: maps.count,
          maxUpdateKeys: maxKeys.count,
        },
      ),
      more: partitionsDropped.more || boundary.more || maps.more || maxKeys.more,
    }
  },
}
