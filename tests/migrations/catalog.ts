/**
 * Catalog queries for the migration suites: what a migration created, read from information_schema and
 * pg_catalog (never from our own repositories).
 */
import type { Sql } from '../../storage/db.ts'

export interface ColumnInfo {
  type: string
  nullable: boolean
  default: string | null
}

export async function tables(sql: Sql): Promise<string[]> {
  const rows = await sql<{ tableName: string }[]>`
    select table_name from information_schema.tables
    where table_schema = current_schema() order by table_name`
  return rows.map((row) => row.tableName)
}

export async function columns(sql: Sql, table: string): Promise<Record<string, ColumnInfo>> {
  const rows = await sql<
    { columnName: string; dataType: string; isNullable: string; columnDefault: string | null }[]
  >`
    select column_name, data_type, is_nullable, column_default from information_schema.columns
    where table_schema = current_schema() and table_name = ${table}`
  return Object.fromEntries(
    rows.map((row) => [
      row.columnName,
      { type: row.dataType, nullable: row.isNullable === 'YES', default: row.columnDefault },
    ]),
  )
}

/** Primary key, unique, foreign key and check constraints (PostgreSQL 18 lists NOT NULL too: skipped). */
export async function constraints(
  sql: Sql,
  table: string,
): Promise<{ name: string; type: string; def: string }[]> {
  return sql<{ name: string; type: string; def: string }[]>`
    select conname as name, contype::text as type, pg_get_constraintdef(oid) as def
    from pg_constraint
    where conrelid = to_regclass(${table}) and contype in ('p', 'u', 'f', 'c')
    order by conname`
}

export async function indexes(sql: Sql, table: string): Promise<Record<string, string>> {
  const rows = await sql<{ indexname: string; indexdef: string }[]>`
    select indexname, indexdef from pg_indexes where schemaname = current_schema() and tablename = ${table}`
  return Object.fromEntries(rows.map((row) => [row.indexname, row.indexdef]))
}

export async function functionNames(sql: Sql): Promise<string[]> {
  const rows = await sql<{ proname: string }[]>`
    select proname from pg_proc where pronamespace = current_schema()::regnamespace order by proname`
  return rows.map((row) => row.proname)
}

/** Partitions of a partitioned table with their bound expressions. */
export async function partitions(sql: Sql, table: string): Promise<{ name: string; bound: string }[]> {
  return sql<{ name: string; bound: string }[]>`
    select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = to_regclass(${table})
    order by c.relname`
}

/** `"delete"` rule of a foreign key: 'c' cascade, 'n' set null, 'a' no action. */
export async function onDelete(sql: Sql, table: string, column: string): Promise<string | undefined> {
  const [row] = await sql<{ action: string }[]>`
    select c.confdeltype::text as action
    from pg_constraint c
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
    where c.conrelid = to_regclass(${table}) and c.contype = 'f' and a.attname = ${column}`
  return row?.action
}
