/**
 * @module One round of the portal sender: the rows of one claim → calls, and each row's fate. Rows are
 * validated (invalid → dead letter), grouped into runs of one kind, sent run by run; every item's result
 * is applied in one transaction. A row that fails holds the later rows of its chat for the rest of the
 * round (they go back untouched), so a chat never overtakes its own failed row.
 */
import { retryOnConnectionLoss } from '../../../storage/connection-loss.ts'
import { ChatNotFoundError } from '../../../storage/repos/chats.ts'
import type { Queryable } from '../../../storage/repos/common.ts'
import type { Delivery, DeliveryKind } from '../../../storage/repos/deliveries.ts'
import type { Logger } from '../../log/logger.ts'
import { BitrixError } from '../api.ts'
import { classifyFailure, describeFailure } from './failures.ts'
import { groupRows } from './groups.ts'
import { backoffMs, type PortalSenderOptions } from './options.ts'
import { type MessagePayload, type PayloadByKind, parsePayload } from './payloads.ts'
import {
  fileCount,
  isIdempotent,
  methodByKind,
  type PortalItem,
  portalItem,
  urlMinter,
} from './portal-items.ts'
import type { PortalPauses } from './portal-pauses.ts'
import { type ItemOutcome, readCallResult } from './results.ts'
import type { DrainResult, PortalSenderDeps, Target } from './types.ts'

interface Entry {
  row: Delivery
  kind: DeliveryKind
  chat: string | null
  payload: PayloadByKind[DeliveryKind]
  files: number
}

/** After a failed call: stop the round (releasing what is left, maybe delayed) or go on. */
type Verdict = { stop: false } | { stop: true; releaseAt?: Date; error?: string }

export interface RoundContext {
  deps: PortalSenderDeps
  options: PortalSenderOptions
  log: Logger
  pauses: PortalPauses
  now: () => number
  random: () => number
  isStopping: () => boolean
}

export class RoundSender {
  readonly #deps: PortalSenderDeps
  readonly #options: PortalSenderOptions
  readonly #log: Logger
  readonly #pauses: PortalPauses
  readonly #now: () => number
  readonly #random: () => number
  readonly #isStopping: () => boolean

  constructor(context: RoundContext) {
    this.#deps = context.deps
    this.#options = context.options
    this.#log = context.log
    this.#pauses = context.pauses
    this.#now = context.now
    this.#random = context.random
    this.#isStopping = context.isStopping
  }

  /** Sends one claim's rows, group by group, stopping at a portal-level failure. */
  async send(target: Target, rows: Delivery[], result: DrainResult): Promise<void> {
    const entries: Entry[] = []
    for (const row of rows) {
      const parsed = parsePayload(row.kind, row.payload)
      if (parsed.ok) {
        entries.push({
          row,
          kind: row.kind,
          chat: row.chatId,
          payload: parsed.payload,
          files: fileCount(row.kind, parsed.payload),
        })
        continue
      }
      // Never sent: a malformed item would make the portal refuse the whole call.
      await this.#deps.repos.deliveries.deadLetter(row.id, parsed.error, { dropBody: true })
      this.#log.warn(
        { deliveryId: row.id, kind: row.kind, error: parsed.error },
        'portal sender: invalid payload',
      )
      this.#count(row.kind, 'invalid')
      result.invalid++
    }
    const groups = groupRows(entries, this.#options.batchSize, this.#options.maxFilesPerCall)
    // Chats with a row that failed in this round: their later rows wait behind it (claim's rule).
    const held = new Set<string>()
    for (const [index, group] of groups.entries()) {
      if (this.#isStopping()) {
        result.released += await this.#release(groups.slice(index).flat(), {})
        return
      }
      const verdict = await this.#call(target, group, held, result)
      if (verdict.stop) {
        const rest = groups.slice(index + 1).flat()
        result.released += await this.#release(rest, { availableAt: verdict.releaseAt, error: verdict.error })
        return
      }
    }
  }

  async #call(target: Target, group: Entry[], held: Set<string>, result: DrainResult): Promise<Verdict> {
    const kind = group[0]!.kind
    const method = methodByKind[kind]
    const mint = urlMinter(this.#deps.files, this.#options.fileUrlTtlSeconds)
    const items: PortalItem[] = []
    const sent: Entry[] = []
    const blocked: Entry[] = []
    for (const entry of group) {
      // An earlier row of this chat failed a moment ago (e.g. its file link): this one must not overtake it.
      if (entry.row.chatId !== null && held.has(entry.row.chatId)) {
        blocked.push(entry)
        continue
      }
      try {
        // Signed URLs are minted now, at send time (issue 4): a row that waited still gets a live link.
        items.push(await portalItem(kind, entry.payload, mint))
        sent.push(entry)
      } catch (error) {
        await this.#failRows([entry], `file link: ${describeFailure(error)}`, held, result)
      }
    }
    result.released += await this.#release(blocked, {})
    if (sent.length === 0) return { stop: false }
    const params = { CONNECTOR: target.connector, LINE: target.line, MESSAGES: items }
    this.#deps.metrics?.callSize.observe({ method }, items.length)
    result.calls++
    let answer: unknown
    try {
      answer = await this.#deps.api.call(target.portalId, method, params, {
        idempotent: isIdempotent(kind),
        timeoutMs: kind === 'message' ? this.#options.sendTimeoutMs : undefined,
      })
    } catch (error) {
      return this.#callFailed(target, method, kind, sent, error, held, result)
    }
    const outcome = readCallResult(kind, answer, sent.length)
    if (outcome.kind === 'refused') {
      // Older portals refuse a call with HTTP 200 and SUCCESS:false (§5.8): same meaning as a 400.
      const error = new BitrixError(outcome.code, outcome.description, 400, method)
      return this.#callFailed(target, method, kind, sent, error, held, result)
    }
    this.#deps.metrics?.calls.inc({ method, outcome: 'ok' })
    this.#pauses.succeeded(target.portalId)
    this.#pauses.lineActive(lineKey(target), { ...target })
    await this.#settle(method, kind, sent, outcome.items, held, result)
    return { stop: false }
  }

  /** Applies per-item outcomes in one transaction: delivered rows complete, failed ones retry. */
  async #settle(
    method: string,
    kind: DeliveryKind,
    sent: Entry[],
    outcomes: ItemOutcome[],
    held: Set<string>,
    result: DrainResult,
  ): Promise<void> {
    const { deliveries, chats } = this.#deps.repos
    let delivered = 0
    // The portal has these items now: the outcome must be written even across a database restart, or the
    // rows would be sent again (duplicates: send.messages does not de-duplicate). A retried transaction
    // starts over, so the counts start over with it.
    const heldBefore = new Set(held)
    const failedBefore = result.failed
    await retryOnConnectionLoss(
      () => {
        delivered = 0
        result.failed = failedBefore
        held.clear()
        for (const chatId of heldBefore) held.add(chatId)
        return this.#deps.sql.begin(async (tx) => {
          const portalChats = new Map<string, string>()
          for (const [index, entry] of sent.entries()) {
            const outcome = outcomes[index]!
            if (!outcome.ok) {
              await this.#failRows([entry], `${method}: ${outcome.error}`, held, result, tx)
              continue
            }
            await deliveries.complete(entry.row.id, tx)
            if (kind === 'message') await this.#markDelivered(entry, tx)
            if (outcome.portalChatId && entry.row.chatId)
              portalChats.set(entry.row.chatId, outcome.portalChatId)
            delivered++
          }
          for (const [chatId, portalChatId] of portalChats) {
            try {
              await chats.setPortalChatId(chatId, portalChatId, tx)
            } catch (error) {
              // The chat was deleted meanwhile (its rows went with it): nothing to map.
              if (!(error instanceof ChatNotFoundError)) throw error
            }
          }
        })
      },
      {
        onRetry: (error, attempt) => {
          if (attempt === 1) this.#log.warn({ err: error, method }, 'portal sender: database lost, retrying')
        },
      },
    )
    // A commit that still failed leaves the rows claimed: the next drain takes them back (in doubt).
    this.#deps.metrics?.items.inc({ kind, outcome: 'delivered' }, delivered)
    result.delivered += delivered
    if (kind === 'message') await this.#dropDeliveredFiles(sent.filter((_, index) => outcomes[index]!.ok))
  }

  /**
   * R8: a file is kept only until delivered. The portal downloads every file inside the call (§5.8), so
   * once it answered success our copy has served its purpose. A failed delete is logged; the retention
   * sweep and the bucket's lifecycle rule remove what is left.
   */
  async #dropDeliveredFiles(delivered: Entry[]): Promise<void> {
    for (const entry of delivered) {
      const { message } = entry.payload as MessagePayload
      for (const file of message.files ?? []) {
        await this.#deps.files.delete(file.objectKey).catch((error: unknown) => {
          this.#log.warn(
            { err: error, deliveryId: entry.row.id },
            'portal sender: delivered file not deleted',
          )
        })
      }
    }
  }

  /** The inbound message's metadata: delivered (R3 keeps it; the body is already gone with the row). */
  async #markDelivered(entry: Entry, tx: Queryable): Promise<void> {
    const { message } = entry.payload as MessagePayload
    const ref = { accountId: entry.row.accountId, direction: 'in' as const, originId: message.id }
    // The origin time prunes the partitions searched; fall back to all of them if it does not match.
    const hinted = { ...ref, sentAt: new Date(message.date * 1000) }
    if (!(await this.#deps.repos.messages.markDelivered(hinted, {}, tx))) {
      await this.#deps.repos.messages.markDelivered(ref, {}, tx)
    }
  }

  async #callFailed(
    target: Target,
    method: string,
    kind: DeliveryKind,
    sent: Entry[],
    error: unknown,
    held: Set<string>,
    result: DrainResult,
  ): Promise<Verdict> {
    const failure = classifyFailure(error)
    const reason = `${method}: ${describeFailure(error)}`
    this.#deps.metrics?.calls.inc({ method, outcome: failure })
    const fields = { portalId: target.portalId, method, count: sent.length, reason }
    switch (failure) {
      case 'line-inactive': {
        // Not the rows' fault, but an admin must act: count the attempt (visible, dead-lettered in the end,
        // retryable from there) and come back rarely. The rest of the round goes back untried.
        this.#pauses.lineInactive(lineKey(target), { ...target, reason })
        const retryAt = new Date(this.#now() + this.#options.inactiveLineRetryMs)
        await this.#failRows(sent, reason, held, result, this.#deps.sql, retryAt)
        return { stop: true, releaseAt: retryAt, error: reason }
      }
      case 'rejected':
        // The portal refused this call before running it; other calls of the round may be fine.
        this.#log.warn(fields, 'portal sender: call rejected')
        await this.#failRows(sent, reason, held, result)
        return { stop: false }
      case 'in-doubt':
        if (!isIdempotent(kind)) {
          this.#log.warn(fields, 'portal sender: send.messages answer lost; resending later, may duplicate')
          this.#deps.metrics?.inDoubt.inc(sent.length)
          await this.#failRows(sent, `in doubt: ${reason}`, held, result)
          this.#pauses.pause(target.portalId, reason)
          return { stop: true }
        }
        break
      default:
        break
    }
    // portal-unavailable, not-run, or an in-doubt repeatable call: nothing lost, nothing burnt.
    result.released += await this.#release(sent, { error: reason })
    this.#pauses.pause(target.portalId, reason)
    return { stop: true, error: reason }
  }

  /** Fails rows with the backoff (or at `retryAt`), holding their chats for the rest of the round. */
  async #failRows(
    entries: Entry[],
    error: string,
    held: Set<string>,
    result: DrainResult,
    db: Queryable = this.#deps.sql,
    retryAt?: Date,
  ): Promise<void> {
    for (const { row } of entries) {
      const at = retryAt ?? new Date(this.#now() + backoffMs(row.attempts, this.#options.retry, this.#random))
      const status = await this.#deps.repos.deliveries.fail(row.id, error, at, db)
      if (row.chatId !== null) held.add(row.chatId)
      this.#count(row.kind, status === 'dead' ? 'dead' : 'failed')
      result.failed++
      const fields = {
        deliveryId: row.id,
        chatId: row.chatId,
        kind: row.kind,
        attempts: row.attempts + 1,
        error,
      }
      if (status === 'dead') this.#log.warn(fields, 'portal sender: dead-lettered')
      else this.#log.debug(fields, 'portal sender: retry scheduled')
    }
  }

  async #release(entries: Entry[], options: { availableAt?: Date; error?: string }): Promise<number> {
    if (entries.length === 0) return 0
    const released = await this.#deps.repos.deliveries.release(
      entries.map((entry) => entry.row.id),
      options,
    )
    for (const entry of entries) this.#count(entry.kind, 'released')
    return released
  }

  #count(kind: DeliveryKind, outcome: 'delivered' | 'failed' | 'dead' | 'released' | 'invalid'): void {
    this.#deps.metrics?.items.inc({ kind, outcome })
  }
}

function lineKey(target: Target): string {
  return `${target.portalId}/${target.connector}/${target.line}`
}
