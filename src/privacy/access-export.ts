/**
 * @module Access request (PRIVACY D1, D5): everything Olchat holds about a portal — or one account of it,
 * or one contact across its accounts — as JSON, with the deletion deadline of every item. The export walks
 * the POLICY's declared locations (tables and columns, cache key patterns, object patterns), never a list
 * of its own, so a class or location added to the policy is exported without touching this file. Rows are
 * read in one repeatable-read snapshot; sealed columns are opened with the key ring.
 *
 * The request is recorded like a deletion: a `data_requests` row with counts per class and an audit entry,
 * both naming the subject only by a keyed hash (D5). The export itself is returned, never stored.
 */
import type postgres from 'postgres'
import type { Tx } from '../../storage/db.ts'
import type { SecretBox } from '../crypto/secret-box.ts'
import { DEADLINES } from './access-export-deadlines.ts'
import { type ExportScope, resolveScope, type ScopeRequest, scopeConditions } from './access-export-scope.ts'
import {
  type AccessExport,
  type AccessRequest,
  type ExportedClass,
  type ExportedItem,
  type ItemRetention,
  PortalNotFoundForExportError,
  parseAccessRequest,
} from './access-export-types.ts'
import { exportedName, exportValue, stringsIn } from './access-export-values.ts'
import type { DeletionDeps } from './deletion.ts'
import { bestMatch, compilePattern, ownerPrefix } from './key-pattern.ts'
import { privacyPolicy } from './policy.ts'
import { objectDeclarations } from './policy-index.ts'
import type {
  CacheLocation,
  ClassId,
  InventoryClass,
  ObjectLocation,
  PrivacyPolicy,
  RuleId,
  TableLocation,
} from './policy-types.ts'
import { isPeriodRule, keptText } from './privacy-page-retention.ts'
import type { RetentionPeriods } from './retention-periods.ts'
import { contactSubjectRef, portalSubjectRef } from './subject-ref.ts'

export interface AccessExportDeps extends DeletionDeps {
  keys: DeletionDeps['keys'] & SecretBox
  /** Periods in force (config), for the deadlines. */
  periods: RetentionPeriods
}

type Fragment = postgres.PendingQuery<postgres.Row[]>

interface TableFacts {
  /** column → is json/jsonb (read as text: the client's camelCase transform would rename keys inside). */
  json: Map<string, Set<string>>
  primaryKeys: Map<string, string[]>
}

const DAY_MS = 86_400_000
const FAR_FUTURE = new Date(8.64e15)
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Produces the export of `input` (validated first) and records the request. */
export async function exportSubjectData(deps: AccessExportDeps, input: unknown): Promise<AccessExport> {
  const request = parseAccessRequest(input)
  const policy = deps.policy ?? privacyPolicy
  const portal = await findPortal(deps, request.portal)
  if (!portal) throw new PortalNotFoundForExportError()
  const scopeRequest: ScopeRequest = request.account
    ? { kind: 'account', accountId: request.account }
    : request.contact
      ? { kind: 'contact', contact: request.contact }
      : { kind: 'portal' }
  const scope = await resolveScope(deps, portal.id, scopeRequest)
  const generatedAt = new Date()
  const classes: ExportedClass[] = Object.values(policy.classes).map((c) => ({
    id: c.id,
    title: c.title,
    source: c.source,
    items: [],
  }))

  await deps.sql.begin('isolation level repeatable read, read only', async (tx) => {
    const conditions = await scopeConditions(tx, policy, scope)
    const facts = await tableFacts(tx)
    for (const [index, dataClass] of Object.values(policy.classes).entries()) {
      for (const location of dataClass.locations) {
        if (location.store !== 'postgres') continue
        const where = conditions.get(location.table)
        if (where) classes[index]!.items.push(...(await tableItems(deps, tx, facts, location, where)))
      }
    }
  })
  for (const [index, dataClass] of Object.values(policy.classes).entries()) {
    for (const location of dataClass.locations) {
      if (location.store === 'cache') classes[index]!.items.push(...(await cacheItems(deps, scope, location)))
    }
  }
  const referenced = new Set(classes.flatMap((c) => c.items.flatMap((item) => stringsIn(item))))
  for (const [index, dataClass] of Object.values(policy.classes).entries()) {
    for (const location of dataClass.locations) {
      if (location.store !== 'objects') continue
      const items = await objectItems(deps, policy, dataClass, location, scope, referenced)
      classes[index]!.items.push(...items)
    }
  }

  const counts = Object.fromEntries(classes.map((c) => [c.id, c.items.length])) as Record<ClassId, number>
  const requestId = await record(deps, request, portal.memberId, scope, counts)
  return {
    format: 'olchat-access-export/1',
    requestId,
    generatedAt: generatedAt.toISOString(),
    portal: { id: portal.id, domain: portal.domain, memberId: portal.memberId },
    scope:
      scope.request.kind === 'contact'
        ? { kind: 'contact', contact: stringRecord(scope.request.contact) }
        : scope.request,
    periods: deps.periods,
    classes,
    counts,
  }
}

/** A portal by Olchat id, member id, or address (with or without scheme and path, any case). */
export async function findPortal(deps: Pick<AccessExportDeps, 'sql'>, name: string) {
  const domain = name
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/[/?#].*$/, '')
    .toLowerCase()
  const [portal] = await deps.sql<{ id: string; domain: string; memberId: string }[]>`
    select id, domain, member_id from portals
    where ${UUID.test(name) ? deps.sql`id = ${name}::uuid` : deps.sql`member_id = ${name} or lower(domain) = ${domain}`}
    order by installed_at desc limit 1`
  return portal
}

async function tableFacts(tx: Tx): Promise<TableFacts> {
  const json = new Map<string, Set<string>>()
  const jsonColumns = await tx<{ table: string; column: string }[]>`
    select table_name as table, column_name as column from information_schema.columns
    where table_schema = current_schema() and data_type in ('json', 'jsonb')`
  for (const { table, column } of jsonColumns) json.set(table, (json.get(table) ?? new Set()).add(column))
  const keyColumns = await tx<{ table: string; column: string }[]>`
    select c.relname as table, a.attname as column
    from pg_index i
    join pg_class c on c.oid = i.indrelid
    join pg_attribute a on a.attrelid = c.oid and a.attnum = any(i.indkey)
    where i.indisprimary and c.relnamespace = current_schema()::regnamespace and not c.relispartition
    order by c.relname, array_position(i.indkey::int2[], a.attnum)`
  const primaryKeys = new Map<string, string[]>()
  for (const { table, column } of keyColumns)
    primaryKeys.set(table, [...(primaryKeys.get(table) ?? []), column])
  return { json, primaryKeys }
}

/** The location's columns of the subject's rows; rows holding none of them (all null) are not listed. */
async function tableItems(
  deps: AccessExportDeps,
  tx: Tx,
  facts: TableFacts,
  location: TableLocation,
  where: Fragment,
): Promise<ExportedItem[]> {
  const { table, columns } = location
  const keys = facts.primaryKeys.get(table) ?? []
  const json = facts.json.get(table) ?? new Set<string>()
  const select = [
    ...keys.map((column, i) => tx`${tx(column)}::text as ${tx(`k${i}`)}`),
    ...columns.map((column, i) =>
      json.has(column) ? tx`${tx(column)}::text as ${tx(`c${i}`)}` : tx`${tx(column)} as ${tx(`c${i}`)}`,
    ),
    ...location.rules.map((rule, i) => {
      const deadline = DEADLINES[`${table}.${rule}`]
      return isPeriodRule(rule) && deadline
        ? tx`${deadline(tx, deps.periods[rule])} as ${tx(`d${i}`)}`
        : tx`null::timestamptz as ${tx(`d${i}`)}`
    }),
  ]
  const list = select.reduce((all, part, i) => (i === 0 ? part : tx`${all}, ${part}`))
  const anyHeld = columns
    .map((column) => tx`${tx(column)} is not null`)
    .reduce((all, p) => tx`${all} or ${p}`)
  const rows = await tx<Record<string, unknown>[]>`
    select ${list} from ${tx(table)} where (${where}) and (${anyHeld}) order by 1`
  return rows.map((row) => ({
    store: 'postgres' as const,
    table,
    key: Object.fromEntries(keys.map((column, i) => [column, String(row[`k${i}`])])),
    data: Object.fromEntries(
      columns.map((column, i) => [
        exportedName(column),
        exportValue(deps.keys, table, column, row[`c${i}`], json.has(column)),
      ]),
    ),
    retention: retentionOf(
      deps,
      location.rules,
      location.rules.map((_, i) => row[`d${i}`] as Date | null),
    ),
  }))
}

/** The earliest dated deadline, and the rules still waiting for an event (or for their clock to start). */
function retentionOf(
  deps: AccessExportDeps,
  rules: readonly RuleId[],
  dates: (Date | null)[],
): ItemRetention {
  const policy = deps.policy ?? privacyPolicy
  const dated = dates.filter((date): date is Date => date instanceof Date)
  const earliest = dated.length > 0 ? new Date(Math.min(...dated.map((d) => d.getTime()))) : null
  return {
    rules: [...rules],
    deleteBy: earliest?.toISOString() ?? null,
    until: rules
      .filter((_, i) => !(dates[i] instanceof Date))
      .map((rule) => ({ rule, ...keptText(policy.rules[rule], deps.periods) })),
  }
}

async function cacheItems(
  deps: AccessExportDeps,
  scope: ExportScope,
  location: CacheLocation,
): Promise<ExportedItem[]> {
  const retention = retentionOf(
    deps,
    location.rules,
    location.rules.map(() => null),
  )
  const items: ExportedItem[] = []
  const { regex } = compilePattern(location.pattern)
  if (scope.rows.kind === 'contact') {
    // The accounts' entries list other people too: report that one holds the contact, not its value.
    const prefix = ownerPrefix(location.pattern, { portal: scope.portalId })
    if (prefix === undefined) return []
    for (const key of await deps.cache.keys(prefix)) {
      if (!regex.test(key)) continue
      const value = await deps.cache.get(key)
      if (value !== undefined && scope.rows.remoteIds.some((id) => value.includes(id)))
        items.push({ store: 'cache', key, value: null, retention })
    }
    return items
  }
  for (const owner of scope.keyOwners) {
    const prefix = ownerPrefix(location.pattern, owner)
    if (prefix === undefined) continue
    for (const key of await deps.cache.keys(prefix)) {
      if (!regex.test(key)) continue
      const value = await deps.cache.get(key)
      if (value !== undefined) items.push({ store: 'cache', key, value, retention })
    }
  }
  return items
}

async function objectItems(
  deps: AccessExportDeps,
  policy: PrivacyPolicy,
  dataClass: InventoryClass,
  location: ObjectLocation,
  scope: ExportScope,
  referenced: Set<string>,
): Promise<ExportedItem[]> {
  const declarations = objectDeclarations(policy)
  const ours = (key: string) => {
    const match = bestMatch(declarations, key)
    return match?.candidate.holder === dataClass.id && match.candidate.compiled.pattern === location.pattern
  }
  const found = new Map<string, { size: number; lastModified: Date }>()
  if (scope.rows.kind === 'contact') {
    // A contact's files are the ones its rows point at (avatars, files of queued messages).
    for (const key of referenced) {
      if (!key.startsWith(`p/${scope.portalId}/`) || !ours(key)) continue
      for await (const object of deps.files.listExpired(FAR_FUTURE, key))
        if (object.key === key) found.set(key, object)
    }
  } else {
    for (const owner of scope.keyOwners) {
      const prefix = ownerPrefix(location.pattern, owner)
      if (prefix === undefined) continue
      for await (const object of deps.files.listExpired(FAR_FUTURE, prefix))
        if (ours(object.key)) found.set(object.key, object)
    }
  }
  return [...found.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, object]) => {
      const days = location.maxAge ? deps.periods[location.maxAge] : undefined
      const dates = location.rules.map((rule) =>
        rule === location.maxAge && days !== undefined
          ? new Date(object.lastModified.getTime() + days * DAY_MS)
          : null,
      )
      return {
        store: 'objects' as const,
        key,
        size: object.size,
        lastModified: object.lastModified.toISOString(),
        retention: retentionOf(deps, location.rules, dates),
      }
    })
}

/** The `data_requests` row (counts only) and the audit entry, in one transaction. @returns the request id. */
async function record(
  deps: AccessExportDeps,
  request: AccessRequest,
  memberId: string,
  scope: ExportScope,
  counts: Record<ClassId, number>,
): Promise<string> {
  const portalRef = portalSubjectRef(deps.keys, memberId)
  const subject =
    scope.request.kind === 'contact'
      ? contactSubjectRef(deps.keys, memberId, scope.request.contact)
      : scope.request.kind === 'account'
        ? `account:${scope.request.accountId}`
        : portalRef
  return deps.sql.begin(async (tx) => {
    const created = await deps.repos.dataRequests.create(
      {
        portalRef,
        kind: 'access',
        scope: { scope: scope.request.kind, subject },
        requestedBy: request.requestedBy,
      },
      tx,
    )
    const totals = Object.values(counts).reduce((a, b) => a + b, 0)
    await deps.repos.dataRequests.complete(created.id, { counts, totals }, tx)
    await deps.repos.auditLog.append(
      {
        portalRef,
        actor: request.requestedBy,
        actorRole: request.requestedRole ?? 'support',
        action: 'data.access_exported',
        target: subject,
        sourceIp: request.sourceIp ?? null,
        details: { via: request.via ?? 'support', requestId: created.id, counts },
      },
      tx,
    )
    return created.id
  })
}

function stringRecord(value: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
}
