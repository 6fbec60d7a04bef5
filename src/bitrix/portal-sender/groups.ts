/**
 * @module Claimed rows → calls. Calls go out one after another, so a chat's rows reach the portal in the
 * order they were queued as long as each of its message/edit/delete rows sits in the same call as its
 * predecessor or a later one. Within that rule a row joins the earliest call of its kind with room: rows of
 * other chats never split a run, so a queue where customer messages interleave with delivery statuses (the
 * normal mix: every operator answer queues a status) still goes out in full calls instead of one call per run
 * (2 requests/s per portal makes that difference 25 items/call vs 1–2).
 *
 * Delivery and reading statuses are not ordered against a chat's messages: they confirm operator messages
 * already shown on the portal, so sending them before or after a customer message changes nothing.
 */
import type { DeliveryKind } from '../../../storage/repos/deliveries.ts'

export interface Groupable {
  kind: DeliveryKind
  /** Files the portal must download for this row. */
  files: number
  /** The chat whose order the row must keep (null: none). */
  chat: string | null
}

const ORDERED: ReadonlySet<DeliveryKind> = new Set(['message', 'edit', 'delete'])

interface Group<T> {
  kind: DeliveryKind
  rows: T[]
  files: number
}

/**
 * Splits `rows` (in queue order) into calls of one kind, at most `batchSize` rows and `maxFiles` files each (a
 * row with more files than that still goes, alone), keeping every chat's message/edit/delete rows in order.
 */
export function groupRows<T extends Groupable>(rows: T[], batchSize: number, maxFiles: number): T[][] {
  const groups: Group<T>[] = []
  /** Index of the call holding each chat's latest ordered row. */
  const lastOfChat = new Map<string, number>()
  for (const row of rows) {
    const ordered = row.chat !== null && ORDERED.has(row.kind)
    const floor = ordered ? (lastOfChat.get(row.chat!) ?? 0) : 0
    let index = groups.findIndex(
      (group, i) =>
        i >= floor &&
        group.kind === row.kind &&
        group.rows.length < batchSize &&
        group.files + row.files <= maxFiles,
    )
    if (index === -1) {
      index = groups.length
      groups.push({ kind: row.kind, rows: [], files: 0 })
    }
    const group = groups[index]!
    group.rows.push(row)
    group.files += row.files
    if (ordered) lastOfChat.set(row.chat!, index)
  }
  return groups.map((group) => group.rows)
}
