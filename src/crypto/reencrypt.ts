/**
 * @module Re-seals every secret at rest with the newest key of the ring (after a rotation), online.
 *
 * Sealed columns are found in the catalog, not listed by hand: every `bytea` column named `*_enc` holds a value
 * sealed for the context `<table>.<column without _enc>` (the repositories' convention, checked by a test).
 * Rows are rewritten in small batches, each guarded by its old value, so a row a running Olchat changes in the
 * meantime is left alone (it was written with the newest key anyway).
 */
import type { Sql } from '../../storage/db.ts'
import type { KeyRing } from './key-ring.ts'

export interface SealedColumn {
  table: string
  column: string
  context: string
}

export interface ReencryptResult {
  resealed: number
  alreadyCurrent: number
  byColumn: Record<string, number>
}

export async function listSealedColumns(sql: Sql): Promise<SealedColumn[]> {
  // Partitions are skipped: their parent is rewritten once for all of them.
  const rows = await sql<{ tableName: string; columnName: string }[]>`
    select c.table_name, c.column_name
    from information_schema.columns c
    join pg_class t on t.relname = c.table_name and t.relnamespace = 'public'::regnamespace
    where c.table_schema = 'public' and c.data_type = 'bytea' and c.column_name like '%\\_enc'
      and not t.relispartition
    order by c.table_name, c.column_name`
  return rows.map(({ tableName, columnName }) => ({
    table: tableName,
    column: columnName,
    context: `${tableName}.${columnName.replace(/_enc$/, '')}`,
  }))
}

export async function reencryptAll(
  sql: Sql,
  keys: KeyRing,
  { batchSize = 500 } = {},
): Promise<ReencryptResult> {
  const result: ReencryptResult = { resealed: 0, alreadyCurrent: 0, byColumn: {} }
  for (const { table, column, context } of await listSealedColumns(sql)) {
    let resealed = 0
    let afterCtid = '(0,0)'
    for (;;) {
      const rows = await sql<{ ctid: string; value: Buffer }[]>`
        select ctid::text as ctid, ${sql(column)} as value from ${sql(table)}
        where ${sql(column)} is not null and ctid > ${afterCtid}::tid
        order by ctid limit ${batchSize}`
      if (rows.length === 0) break
      afterCtid = rows[rows.length - 1]!.ctid
      for (const row of rows) {
        if (keys.keyIdOf(row.value) === keys.activeKeyId) {
          result.alreadyCurrent++
          continue
        }
        const fresh = keys.seal(keys.open(row.value, context), context)
        const updated = await sql`
          update ${sql(table)} set ${sql(column)} = ${fresh}
          where ctid = ${row.ctid}::tid and ${sql(column)} = ${row.value}`
        resealed += updated.count
      }
    }
    result.byColumn[`${table}.${column}`] = resealed
    result.resealed += resealed
  }
  return result
}
