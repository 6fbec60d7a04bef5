/**
 * @module Claimed rows → calls. Rows come in id order (claim keeps per-chat order); consecutive rows of one
 * kind travel in one call, and calls go out one after another, so every chat's rows reach the portal in
 * the order they were queued, whatever kinds they interleave.
 */
import type { DeliveryKind } from '../../../storage/repos/deliveries.ts'

export interface Groupable {
  kind: DeliveryKind
  /** Files the portal must download for this row. */
  files: number
}

/** Splits `rows` into runs of one kind, at most `batchSize` rows and `maxFiles` files each (a row with
 * more files than that still goes, alone). */
export function groupRows<T extends Groupable>(rows: T[], batchSize: number, maxFiles: number): T[][] {
  const groups: T[][] = []
  let current: T[] = []
  let files = 0
  for (const row of rows) {
    const head = current[0]
    const full = current.length >= batchSize || (current.length > 0 && files + row.files > maxFiles)
    if (head && (head.kind !== row.kind || full)) {
      groups.push(current)
      current = []
      files = 0
    }
    current.push(row)
    files += row.files
  }
  if (current.length > 0) groups.push(current)
  return groups
}
