/**
 * @module A write of the account's background refreshes (contacts, own profile), checked against the lease in
 * the same transaction when the caller holds one: a process that lost the account must not write for it.
 */
import type { Sql } from '../../storage/db.ts'
import type { Queryable } from '../../storage/repos/common.ts'
import type { Fence } from '../relay/fence.ts'

export async function fencedWrite<T>(
  deps: { sql: Sql; fence?: Fence },
  work: (db: Queryable) => Promise<T>,
): Promise<T> {
  const fence = deps.fence
  if (!fence) return work(deps.sql)
  return (await deps.sql.begin(async (tx) => {
    await fence(tx)
    return work(tx)
  })) as T
}
