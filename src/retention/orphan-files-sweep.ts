/**
 * @module R8 (and R6's "orphaned file"): incoming files live in object storage only for the transfer
 * (`p/<portal>/a/<account>/in/<id>`). Nothing records which job a delivered file belonged to (a delivered
 * job keeps no body), so a file is judged by what still needs it:
 * - a job still holding its body (pending, in flight, retryable dead letter) names it → kept;
 * - younger than the signed-link lifetime → kept (it may be between upload and enqueue, or just sent);
 * - a `to_portal` job of its account created after it was written finished less than a link lifetime ago →
 *   kept (that send may have been this file's, and the portal may not have fetched it yet);
 * - otherwise deleted; and past the R8 period it is deleted whatever recent job might have sent it.
 * The store lists by key, not by age, so every run walks the whole listing (cheap: a page is a thousand
 * keys) and stops early only once it has deleted its budget.
 */
import * as v from 'valibot'
import type { StoredObject } from '../../storage/files/file-store.ts'
import { cutoffFor } from './periods.ts'
import { type Sweep, type SweepDeps, tally } from './sweep.ts'

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
/** `p/<portal>/a/<account>/in/<id>` (src/relay/keys.ts); other objects are not this sweep's to judge. */
const INBOUND_KEY = new RegExp(`^p/(${UUID})/a/(${UUID})/in/[^/]+$`)

/** Object-store clocks and the database clock differ a little; comparisons between them allow this much. */
const CLOCK_SKEW_MS = 5 * 60_000

/** The parts of a job body that name objects (portal-sender/payloads.ts); anything else names none. */
const ObjectRefs = v.looseObject({
  user: v.optional(v.looseObject({ pictureKey: v.optional(v.string()) })),
  message: v.optional(
    v.looseObject({ files: v.optional(v.array(v.looseObject({ objectKey: v.optional(v.string()) }))) }),
  ),
})

interface Candidate extends StoredObject {
  accountId: string
}

/** Keys named by the bodies of `to_portal` jobs of `accountIds` created since `since`. */
async function referencedKeys(deps: SweepDeps, accountIds: string[], since: Date): Promise<Set<string>> {
  const rows = await deps.sql<{ id: string }[]>`
    select id::text as id from deliveries
    where account_id = any(${deps.sql.array(accountIds)}::uuid[]) and direction = 'to_portal'
      and payload_enc is not null and created_at >= ${since}`
  const keys = new Set<string>()
  for (const { id } of rows) {
    const delivery = await deps.repos.deliveries.get(id).catch(() => undefined)
    const parsed = v.safeParse(ObjectRefs, delivery?.payload)
    if (!parsed.success) continue
    if (parsed.output.user?.pictureKey) keys.add(parsed.output.user.pictureKey)
    for (const file of parsed.output.message?.files ?? []) if (file.objectKey) keys.add(file.objectKey)
  }
  return keys
}

/** Per account: the creation time of its latest `to_portal` job that finished since `since`. */
async function recentSends(deps: SweepDeps, accountIds: string[], since: Date): Promise<Map<string, Date>> {
  const rows = await deps.sql<{ accountId: string; latest: Date }[]>`
    select account_id, max(created_at) as latest from deliveries
    where account_id = any(${deps.sql.array(accountIds)}::uuid[]) and direction = 'to_portal'
      and status = 'done' and finished_at >= ${since}
    group by account_id`
  return new Map(rows.map((row) => [row.accountId, row.latest]))
}

async function sweepCandidates(deps: SweepDeps, candidates: Candidate[], now: Date): Promise<number> {
  if (candidates.length === 0) return 0
  const accountIds = [...new Set(candidates.map((c) => c.accountId))]
  const oldest = Math.min(...candidates.map((c) => c.lastModified.getTime()))
  const referenced = await referencedKeys(deps, accountIds, new Date(oldest - CLOCK_SKEW_MS))
  const sent = await recentSends(deps, accountIds, new Date(now.getTime() - deps.fileTtlMs))
  const pastPeriod = cutoffFor(deps.periods, 'R8', now).getTime()
  let deleted = 0
  for (const object of candidates) {
    if (referenced.has(object.key)) continue
    const latestSend = sent.get(object.accountId)
    const maybeJustSent =
      latestSend !== undefined && latestSend.getTime() >= object.lastModified.getTime() - CLOCK_SKEW_MS
    if (maybeJustSent && object.lastModified.getTime() >= pastPeriod) continue
    await deps.files.delete(object.key)
    deleted++
  }
  return deleted
}

export const orphanFilesSweep: Sweep = {
  rule: 'R8',
  name: 'orphaned-files',
  intervalMs: 15 * 60_000,
  async run(deps) {
    const now = deps.now()
    const olderThan = new Date(now.getTime() - deps.fileTtlMs)
    const budget = deps.batchSize * deps.maxBatches
    let candidates: Candidate[] = []
    let deleted = 0
    for await (const object of deps.files.listExpired(olderThan, 'p/')) {
      const match = INBOUND_KEY.exec(object.key)
      if (!match) continue
      candidates.push({ ...object, accountId: match[2]! })
      if (candidates.length < deps.batchSize) continue
      deleted += await sweepCandidates(deps, candidates, now)
      candidates = []
      if (deleted >= budget) return { deleted: { objects: deleted }, more: true }
    }
    deleted += await sweepCandidates(deps, candidates, now)
    return { deleted: tally({}, { objects: deleted }), more: false }
  },
}
