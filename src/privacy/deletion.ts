/**
 * @module Full deletion by support (PRIVACY D4, D5): everything of a portal, or of one contact across the
 * portal's accounts, from PostgreSQL, the cache and the object store — wherever the policy says such data
 * lives — and a receipt with counts per data class that names the subject only by a keyed hash.
 *
 * Order: the portal is stopped first (status `uninstalled`: the REST client refuses it, no new work
 * starts), then objects and cache keys go, then one transaction deletes the rows, checks none is left, and
 * writes the receipt (`data_requests`) and the audit entry — so the record commits with the deletion or not
 * at all. A failure leaves the request repeatable: running it again finishes the job.
 */
import type { Cache } from '../../storage/cache/cache.ts'
import type { Sql, Tx } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import { NotFoundError } from '../../storage/repos/common.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import type { Logger } from '../log/logger.ts'
import {
  type ClassCounts,
  type ContactSelector,
  type DeletionReceipt,
  type DeletionRequest,
  parseDeletionRequest,
} from './deletion-request.ts'
import {
  type ContactRows,
  countRows,
  deleteRows,
  type PortalRows,
  type RowScope,
  scopedTables,
} from './deletion-rows.ts'
import { type Bindings, bestMatch, ownerPrefix } from './key-pattern.ts'
import { privacyPolicy } from './policy.ts'
import { cacheDeclarations, declaredColumns, type Holder, objectDeclarations } from './policy-index.ts'
import type { PrivacyPolicy } from './policy-types.ts'
import { contactSubjectRef, type KeySource, portalSubjectRef } from './subject-ref.ts'

export interface DeletionDeps {
  sql: Sql
  cache: Cache
  files: FileStore
  keys: KeySource
  repos: Pick<Repositories, 'contacts' | 'deliveries' | 'inboundEvents' | 'dataRequests' | 'auditLog'>
  log?: Logger
  policy?: PrivacyPolicy
}

export class PortalNotFoundForDeletionError extends NotFoundError {
  override name = 'PortalNotFoundForDeletionError'
  constructor() {
    // The member id stays out of the message: it may end up in a log.
    super('portal', '(by member id)')
  }
}

type Tally = Map<Holder | 'undeclared', { cacheKeys: number; objects: number }>

const FAR_FUTURE = new Date(8.64e15)

/** Deletes the subject of `input` (validated first) and returns the receipt. */
export async function deleteSubjectData(deps: DeletionDeps, input: unknown): Promise<DeletionReceipt> {
  const request = parseDeletionRequest(input)
  const policy = deps.policy ?? privacyPolicy
  const requestedAt = new Date()
  const [portal] = await deps.sql<
    { id: string }[]
  >`select id from portals where member_id = ${request.memberId}`
  if (!portal) throw new PortalNotFoundForDeletionError()
  const portalRef = portalSubjectRef(deps.keys, request.memberId)
  const subject = request.contact
    ? contactSubjectRef(deps.keys, request.memberId, request.contact)
    : portalRef
  const tally: Tally = new Map()

  let scope: RowScope
  if (request.contact) {
    scope = await contactScope(deps, portal.id, request.contact)
    await deleteContactObjects(deps, policy, portal.id, scope, tally)
    // The contact cache of each account that knew the contact goes whole: it is a cache (S2).
    const accounts = await deps.sql<{ accountId: string }[]>`
      select distinct account_id from contacts where id = any(${deps.sql.array(scope.contactIds)}::bigint[])`
    for (const { accountId } of accounts) {
      await deleteKeys(deps, policy, tally, { portal: portal.id, account: accountId }, 'cache')
    }
  } else {
    await deps.sql`update portals set status = 'uninstalled', updated_at = now() where id = ${portal.id}`
    scope = await portalScope(deps.sql, portal.id)
    await deleteKeys(deps, policy, tally, { portal: portal.id }, 'objects')
    await deleteKeys(deps, policy, tally, { portal: portal.id }, 'cache')
  }

  const receipt = await deps.sql.begin(async (tx) => {
    // Held until commit: a concurrent request for the same portal waits instead of counting twice.
    await tx`select id from portals where id = ${portal.id} for update`
    const tables = await scopedTables(tx, policy, scope)
    const counts = await countRows(tx, tables)
    await deleteRows(tx, tables)
    return record(deps, tx, request, {
      scope: request.contact ? 'contact' : 'portal',
      portal: portalRef,
      subject,
      requestedAt,
      classes: classCounts(policy, counts, tally),
      tables: counts,
    })
  })
  deps.log?.info(
    { requestId: receipt.requestId, scope: receipt.scope, subject, totals: receipt.totals },
    'personal data deleted on request',
  )
  return receipt
}

export async function portalScope(sql: Sql, portalId: string): Promise<PortalRows> {
  const [ids] = await sql<{ accounts: string[]; others: string[] }[]>`
    with a as (select id from accounts where portal_id = ${portalId})
    select
      coalesce((select array_agg(id::text) from a), '{}') as accounts,
      coalesce((select array_agg(id::text) from contacts where account_id in (select id from a)), '{}')
        || coalesce((select array_agg(id::text) from chats where account_id in (select id from a)), '{}') as others`
  const accountIds = ids!.accounts
  return { kind: 'portal', portalId, accountIds, subjectIds: [portalId, ...accountIds, ...ids!.others] }
}

function matches(
  contact: { remoteId: string; username: string | null; phone: string | null },
  wanted: ContactSelector,
) {
  if (wanted.remoteId !== undefined && contact.remoteId !== wanted.remoteId) return false
  if (
    wanted.username !== undefined &&
    contact.username?.replace(/^@/, '').toLowerCase() !== wanted.username
  ) {
    return false
  }
  if (wanted.phone !== undefined && contact.phone?.replace(/\D/g, '') !== wanted.phone) return false
  return true
}

/** The contact's rows: phones are sealed, so the portal's contacts are opened and compared here. */
export async function contactScope(
  deps: DeletionDeps,
  portalId: string,
  wanted: ContactSelector,
): Promise<ContactRows> {
  const accounts = await deps.sql<{ id: string }[]>`select id from accounts where portal_id = ${portalId}`
  const accountIds = accounts.map((a) => a.id)
  const contacts = []
  for (const accountId of accountIds) {
    for (const contact of await deps.repos.contacts.list(accountId))
      if (matches(contact, wanted)) contacts.push(contact)
  }
  const contactIds = contacts.map((c) => c.id)
  const chats = await deps.sql<{ id: string; remoteChatId: string }[]>`
    select id::text as id, remote_chat_id from chats where contact_id = any(${deps.sql.array(contactIds)}::bigint[])`
  const chatIds = chats.map((c) => c.id)
  const remoteIds = [...new Set([...contacts.map((c) => c.remoteId), ...chats.map((c) => c.remoteChatId)])]
  return {
    kind: 'contact',
    accountIds,
    contactIds,
    chatIds,
    remoteIds,
    eventIds: await eventsOfChats(deps, portalId, remoteIds),
  }
}

/** Pending Bitrix24 events of the portal whose messages belong to one of these messenger chats. */
async function eventsOfChats(
  deps: DeletionDeps,
  portalId: string,
  remoteChatIds: string[],
): Promise<string[]> {
  if (remoteChatIds.length === 0) return []
  const pending = await deps.sql<{ id: string }[]>`
    select id::text as id from inbound_events where portal_id = ${portalId} and payload_enc is not null`
  const found: string[] = []
  for (const { id } of pending) {
    const { payload } = await deps.repos.inboundEvents.get(id)
    const messages = (payload as { data?: { MESSAGES?: { chat?: { id?: unknown } }[] } } | null)?.data
      ?.MESSAGES
    if (messages?.some((m) => remoteChatIds.includes(String(m.chat?.id)))) found.push(id)
  }
  return found
}

/** Files of the contact: its avatars and the files and pictures its queued messages reference. */
async function deleteContactObjects(
  deps: DeletionDeps,
  policy: PrivacyPolicy,
  portalId: string,
  scope: ContactRows,
  tally: Tally,
): Promise<void> {
  const keys = new Set<string>()
  const avatars = await deps.sql<{ avatarKey: string }[]>`
    select avatar_key from contacts
    where id = any(${deps.sql.array(scope.contactIds)}::bigint[]) and avatar_key is not null`
  for (const { avatarKey } of avatars) keys.add(avatarKey)
  const queued = await deps.sql<{ id: string }[]>`
    select id::text as id from deliveries
    where chat_id = any(${deps.sql.array(scope.chatIds)}::bigint[]) and payload_enc is not null`
  for (const { id } of queued) {
    const { payload } = await deps.repos.deliveries.get(id)
    const body = payload as {
      user?: { pictureKey?: string }
      message?: { files?: { objectKey?: string }[] }
    } | null
    if (body?.user?.pictureKey) keys.add(body.user.pictureKey)
    for (const file of body?.message?.files ?? []) if (file.objectKey) keys.add(file.objectKey)
  }
  const declarations = objectDeclarations(policy)
  for (const key of keys) {
    // Only the portal's own objects; S3 cannot say whether a delete removed anything, so look first.
    if (!key.startsWith(`p/${portalId}/`) || !(await objectExists(deps.files, key))) continue
    await deps.files.delete(key)
    count(tally, bestMatch(declarations, key)?.candidate.holder ?? 'undeclared', 'objects')
  }
}

async function objectExists(files: FileStore, key: string): Promise<boolean> {
  for await (const object of files.listExpired(FAR_FUTURE, key)) if (object.key === key) return true
  return false
}

/**
 * Every cache key or object under the prefixes the policy's patterns give for these ids (`p:<portal>:`,
 * `bitrix:bucket:<portal>`, `p/<portal>/` …), deleted one by one and counted by the class of the most
 * specific pattern it matches; a key of the subject matching none is deleted and counted as undeclared.
 */
async function deleteKeys(
  deps: DeletionDeps,
  policy: PrivacyPolicy,
  tally: Tally,
  bindings: Bindings,
  store: 'cache' | 'objects',
): Promise<void> {
  const declarations = store === 'cache' ? cacheDeclarations(policy) : objectDeclarations(policy)
  const prefixes = new Set(declarations.flatMap((d) => ownerPrefix(d.compiled.pattern, bindings) ?? []))
  const done = new Set<string>()
  for (const prefix of prefixes) {
    const keys =
      store === 'cache'
        ? await deps.cache.keys(prefix)
        : (await listObjects(deps.files, prefix)).map((o) => o.key)
    for (const key of keys) {
      if (done.has(key)) continue
      done.add(key)
      if (store === 'cache') await deps.cache.delete(key)
      else await deps.files.delete(key)
      count(
        tally,
        bestMatch(declarations, key)?.candidate.holder ?? 'undeclared',
        store === 'cache' ? 'cacheKeys' : 'objects',
      )
    }
  }
}

async function listObjects(files: FileStore, prefix: string) {
  const found = []
  for await (const object of files.listExpired(FAR_FUTURE, prefix)) found.push(object)
  return found
}

function count(tally: Tally, holder: Holder | 'undeclared', field: 'cacheKeys' | 'objects'): void {
  const entry = tally.get(holder) ?? { cacheKeys: 0, objects: 0 }
  entry[field]++
  tally.set(holder, entry)
}

/** Rows of each table under every class that has columns in it (technical-only tables under `technical`). */
function classCounts(
  policy: PrivacyPolicy,
  rows: Record<string, number>,
  tally: Tally,
): DeletionReceipt['classes'] {
  const classes: DeletionReceipt['classes'] = {}
  const entry = (holder: Holder | 'undeclared'): ClassCounts => {
    classes[holder] ??= { rows: {}, cacheKeys: 0, objects: 0 }
    return classes[holder]!
  }
  const columns = declaredColumns(policy)
  for (const [table, n] of Object.entries(rows)) {
    const holders = new Set(columns.get(table)?.values() ?? [])
    const personal = [...holders].filter((h) => h !== 'technical')
    for (const holder of personal.length > 0 ? personal : ['technical' as const])
      entry(holder).rows[table] = n
  }
  for (const [holder, keys] of tally) {
    entry(holder).cacheKeys += keys.cacheKeys
    entry(holder).objects += keys.objects
  }
  return classes
}

async function record(
  deps: DeletionDeps,
  tx: Tx,
  request: DeletionRequest,
  parts: Omit<DeletionReceipt, 'requestId' | 'requestedBy' | 'requestedAt' | 'completedAt' | 'totals'> & {
    requestedAt: Date
  },
): Promise<DeletionReceipt> {
  const created = await deps.repos.dataRequests.create(
    {
      portalRef: parts.portal,
      kind: 'deletion',
      scope: { scope: parts.scope, subject: parts.subject },
      requestedBy: request.requestedBy,
    },
    tx,
  )
  const [now] = await tx<{ at: Date }[]>`select clock_timestamp() as at`
  const keys = Object.values(parts.classes)
  const receipt: DeletionReceipt = {
    requestId: created.id,
    scope: parts.scope,
    portal: parts.portal,
    subject: parts.subject,
    requestedBy: request.requestedBy,
    requestedAt: parts.requestedAt.toISOString(),
    completedAt: now!.at.toISOString(),
    classes: parts.classes,
    tables: parts.tables,
    totals: {
      rows: Object.values(parts.tables).reduce((a, b) => a + b, 0),
      cacheKeys: keys.reduce((a, c) => a + c!.cacheKeys, 0),
      objects: keys.reduce((a, c) => a + c!.objects, 0),
    },
  }
  await deps.repos.dataRequests.complete(created.id, { ...receipt }, tx)
  await deps.repos.auditLog.append(
    {
      portalRef: parts.portal,
      actor: request.requestedBy,
      actorRole: request.requestedRole ?? 'support',
      action: parts.scope === 'portal' ? 'data.portal_deleted' : 'data.contact_deleted',
      target: parts.subject,
      sourceIp: request.sourceIp ?? null,
      details: { via: request.via ?? 'support', requestId: created.id, totals: receipt.totals },
    },
    tx,
  )
  return receipt
}
