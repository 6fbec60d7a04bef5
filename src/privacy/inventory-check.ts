/**
 * @module The allow-list check (PRIVACY: "nothing outside this inventory may be stored"): the live schema
 * (information_schema, every schema of the database), every cache key (SCAN on Redis, the map of the
 * in-process cache) and every object of the file store are compared with the hand-written policy. It
 * reports what the policy does not declare, what it declares but is missing, and — where the stores can
 * tell — declared data held past its rule (overdue rows, keys of a removed portal or a disconnected
 * account, files older than R8 allows).
 */
import type { Cache } from '../../storage/cache/cache.ts'
import type { Sql } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import { bestMatch } from './key-pattern.ts'
import { privacyPolicy } from './policy.ts'
import {
  cacheDeclarations,
  declaredColumns,
  type Holder,
  type KeyDeclaration,
  objectDeclarations,
  overdueChecks,
  policyProblems,
} from './policy-index.ts'
import type { PeriodRuleId, PrivacyPolicy, RuleId } from './policy-types.ts'
import { cutoffOf, defaultPeriods, type RetentionPeriods } from './retention-periods.ts'

export type InventoryProblem =
  | { kind: 'policy'; message: string }
  | { kind: 'undeclared-table'; table: string; columns: string[] }
  | { kind: 'undeclared-column'; table: string; column: string }
  | { kind: 'missing-table'; table: string }
  | { kind: 'missing-column'; table: string; column: string }
  | { kind: 'undeclared-cache-key'; key: string }
  | { kind: 'undeclared-object'; key: string }
  | { kind: 'overdue-rows'; table: string; holder: Holder; rule: RuleId; finds: string; rows: number }
  | { kind: 'overdue-cache-key'; key: string; holder: Holder; reason: string }
  | { kind: 'overdue-object'; key: string; holder: Holder; reason: string }

export interface InventoryReport {
  ok: boolean
  problems: InventoryProblem[]
  checked: { tables: number; columns: number; cacheKeys: number; objects: number }
}

export interface InventoryStores {
  sql: Sql
  cache?: Cache
  files?: FileStore
}

export interface InventoryOptions {
  policy?: PrivacyPolicy
  periods?: RetentionPeriods
  now?: Date
  /** Slack for sweeps that run periodically: data is overdue only this long after its deadline. @default 1 day */
  graceMs?: number
}

const DAY_MS = 86_400_000
const PERIOD_RULES = new Set<RuleId>(['R3', 'R5', 'R6', 'R7', 'R8'])

interface Context {
  sql: Sql
  policy: PrivacyPolicy
  periods: RetentionPeriods
  now: Date
  graceMs: number
  problems: InventoryProblem[]
}

export async function checkInventory(
  stores: InventoryStores,
  options: InventoryOptions = {},
): Promise<InventoryReport> {
  const context: Context = {
    sql: stores.sql,
    policy: options.policy ?? privacyPolicy,
    periods: options.periods ?? defaultPeriods,
    now: options.now ?? new Date(),
    graceMs: options.graceMs ?? DAY_MS,
    problems: [],
  }
  for (const message of policyProblems(context.policy)) context.problems.push({ kind: 'policy', message })
  const schema = await checkSchema(context)
  await checkOverdueRows(context, schema)
  const cacheKeys = stores.cache ? await checkCache(context, stores.cache) : 0
  const objects = stores.files ? await checkObjects(context, stores.files) : 0
  return {
    ok: context.problems.length === 0,
    problems: context.problems,
    checked: { tables: schema.size, columns: countColumns(schema), cacheKeys, objects },
  }
}

const countColumns = (schema: Map<string, string[]>) => [...schema.values()].reduce((n, c) => n + c.length, 0)

/**
 * Tables and views of every non-system schema with their columns; partitions are left out (their parent
 * declares them). Tables outside the current schema are named `schema.table`.
 */
async function liveSchema(sql: Sql): Promise<Map<string, string[]>> {
  const rows = await sql<{ tableName: string; columnName: string }[]>`
    select
      case when c.table_schema = current_schema() then c.table_name
        else c.table_schema || '.' || c.table_name end as table_name,
      c.column_name
    from information_schema.columns c
    where c.table_schema not in ('pg_catalog', 'information_schema') and c.table_schema not like 'pg\\_%'
      and not coalesce(
        (select k.relispartition from pg_class k
          where k.oid = to_regclass(format('%I.%I', c.table_schema, c.table_name))),
        false)
    order by 1, c.ordinal_position`
  const schema = new Map<string, string[]>()
  for (const { tableName, columnName } of rows) {
    schema.set(tableName, [...(schema.get(tableName) ?? []), columnName])
  }
  return schema
}

async function checkSchema(context: Context): Promise<Map<string, string[]>> {
  const schema = await liveSchema(context.sql)
  const declared = declaredColumns(context.policy)
  for (const [table, columns] of schema) {
    const known = declared.get(table)
    if (!known) {
      context.problems.push({ kind: 'undeclared-table', table, columns })
      continue
    }
    for (const column of columns) {
      if (!known.has(column)) context.problems.push({ kind: 'undeclared-column', table, column })
    }
  }
  for (const [table, columns] of declared) {
    const live = schema.get(table)
    if (!live) {
      context.problems.push({ kind: 'missing-table', table })
      continue
    }
    for (const column of columns.keys()) {
      if (!live.includes(column)) context.problems.push({ kind: 'missing-column', table, column })
    }
  }
  return schema
}

function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.')
}

async function checkOverdueRows(context: Context, schema: Map<string, string[]>): Promise<void> {
  const graceNow = new Date(context.now.getTime() - context.graceMs)
  for (const { holder, table, check } of overdueChecks(context.policy)) {
    if (!schema.has(table)) continue
    const cutoff = PERIOD_RULES.has(check.rule)
      ? cutoffOf(context.periods, check.rule as PeriodRuleId, context.now, context.graceMs)
      : graceNow
    // Both parameters typed up front: a condition may use only one of them.
    const [row] = await context.sql.unsafe<{ n: number }[]>(
      `select count(*)::int as n from ${quoteTable(table)}
       where $1::timestamptz is not null and $2::timestamptz is not null and (${check.where})`,
      [cutoff, graceNow],
    )
    if (row!.n > 0) {
      context.problems.push({
        kind: 'overdue-rows',
        table,
        holder,
        rule: check.rule,
        finds: check.finds,
        rows: row!.n,
      })
    }
  }
}

/** Portals that exist and accounts not disconnected past the grace: keys and files may name only these. */
async function liveOwners(context: Context, portals: string[], accounts: string[]) {
  const graceNow = new Date(context.now.getTime() - context.graceMs)
  const livePortals = portals.length
    ? await context.sql<{ id: string }[]>`
        select id::text as id from portals
        where id::text in ${context.sql(portals)} and not (status = 'uninstalled' and updated_at < ${graceNow})`
    : []
  const liveAccounts = accounts.length
    ? await context.sql<{ id: string }[]>`
        select id::text as id from accounts
        where id::text in ${context.sql(accounts)}
          and not (health = 'disconnected' and health_changed_at < ${graceNow})`
    : []
  return { portals: new Set(livePortals.map((r) => r.id)), accounts: new Set(liveAccounts.map((r) => r.id)) }
}

interface Matched {
  key: string
  declaration: KeyDeclaration
  portal?: string
  account?: string
  lastModified?: Date
}

/** Undeclared keys become problems; the declared ones are returned with the ids they carry. */
function classify(
  context: Context,
  declarations: KeyDeclaration[],
  keys: { key: string; lastModified?: Date }[],
  undeclared: 'undeclared-cache-key' | 'undeclared-object',
): Matched[] {
  const matched: Matched[] = []
  for (const { key, lastModified } of keys) {
    const best = bestMatch(declarations, key)
    if (!best) {
      context.problems.push({ kind: undeclared, key })
      continue
    }
    matched.push({
      key,
      declaration: best.candidate,
      ...best.bindings,
      ...(lastModified ? { lastModified } : {}),
    })
  }
  return matched
}

/** Why a matched key outlives what it belongs to, if it does. */
function orphanReason(
  item: Matched,
  live: { portals: Set<string>; accounts: Set<string> },
): string | undefined {
  const bound = item.declaration.boundTo
  if (bound === undefined) return undefined
  if (item.portal && !live.portals.has(item.portal)) return 'its portal was removed'
  if (bound === 'account' && item.account && !live.accounts.has(item.account)) {
    return 'its account was disconnected or deleted'
  }
  return undefined
}

async function checkCache(context: Context, cache: Cache): Promise<number> {
  const keys = await cache.keys('')
  const matched = classify(
    context,
    cacheDeclarations(context.policy),
    keys.map((key) => ({ key })),
    'undeclared-cache-key',
  )
  const live = await liveOwners(context, ids(matched, 'portal'), ids(matched, 'account'))
  for (const item of matched) {
    const reason = orphanReason(item, live)
    if (reason)
      context.problems.push({
        kind: 'overdue-cache-key',
        key: item.key,
        holder: item.declaration.holder,
        reason,
      })
  }
  return keys.length
}

async function checkObjects(context: Context, files: FileStore): Promise<number> {
  const objects: { key: string; lastModified: Date }[] = []
  // Every object: "older than the far future" lists them all.
  for await (const object of files.listExpired(new Date(8.64e15))) objects.push(object)
  const matched = classify(context, objectDeclarations(context.policy), objects, 'undeclared-object')
  const live = await liveOwners(context, ids(matched, 'portal'), ids(matched, 'account'))
  for (const item of matched) {
    const maxAge = item.declaration.maxAge
    const reason =
      orphanReason(item, live) ??
      (maxAge &&
      item.lastModified &&
      item.lastModified < cutoffOf(context.periods, maxAge, context.now, context.graceMs)
        ? `older than ${context.periods[maxAge]} days (${maxAge})`
        : undefined)
    if (reason)
      context.problems.push({
        kind: 'overdue-object',
        key: item.key,
        holder: item.declaration.holder,
        reason,
      })
  }
  return objects.length
}

function ids(matched: Matched[], field: 'portal' | 'account'): string[] {
  return [...new Set(matched.flatMap((item) => (item[field] ? [item[field]] : [])))]
}

/** One line per problem, for the command line and test failures. */
export function describeProblem(problem: InventoryProblem): string {
  switch (problem.kind) {
    case 'policy':
      return `policy: ${problem.message}`
    case 'undeclared-table':
      return `table ${problem.table} (${problem.columns.join(', ')}) is not declared in the privacy policy`
    case 'undeclared-column':
      return `column ${problem.table}.${problem.column} is not declared in the privacy policy`
    case 'missing-table':
      return `table ${problem.table} is declared in the privacy policy but does not exist`
    case 'missing-column':
      return `column ${problem.table}.${problem.column} is declared in the privacy policy but does not exist`
    case 'undeclared-cache-key':
      return `cache key ${problem.key} matches no pattern of the privacy policy`
    case 'undeclared-object':
      return `object ${problem.key} matches no prefix of the privacy policy`
    case 'overdue-rows':
      return `${problem.table}: ${problem.rows} row(s) past ${problem.rule} (${problem.holder}): ${problem.finds}`
    case 'overdue-cache-key':
      return `cache key ${problem.key} (${problem.holder}) outlived its owner: ${problem.reason}`
    case 'overdue-object':
      return `object ${problem.key} (${problem.holder}) is overdue: ${problem.reason}`
  }
}
