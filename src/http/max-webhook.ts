/**
 * @module `POST /max/webhook/:accountId`: MAX's webhook deliveries (reference/max-bot-api.md §4.2), one
 * `Update` per request. The secret MAX echoes in `X-Max-Bot-Api-Secret` is compared in constant time with
 * the account's before anything is read: wrong or missing → 401, nothing stored. A body that is not JSON
 * → 400. Every readable update of a type we handle is stored sealed under its identity (a repeat stores
 * nothing) and the owner of the account is woken; the 200 goes out only after the row is committed. An
 * update of another type, or in a shape we cannot read, is answered 200, logged and counted — never
 * refused, because MAX unsubscribes a bot whose endpoint keeps failing.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { Hono } from 'hono'
import * as v from 'valibot'
import type { Repositories } from '../../storage/repos/index.ts'
import type { MaxMetrics } from '../connectors/max/metrics.ts'
import { skipReason } from '../connectors/max/metrics.ts'
import { SESSION_KEYS } from '../connectors/max/session.ts'
import { parseUpdate } from '../connectors/max/updates.ts'
import type { Logger } from '../log/logger.ts'

export interface MaxWebhookDeps {
  repos: Pick<Repositories, 'accounts' | 'accountSessions' | 'maxUpdates'>
  metrics: MaxMetrics
  log: Logger
  /** A row was committed: wake the process that runs the account (NOTIFY; in-process when embedded). */
  onStored(accountId: string): void
  /** Larger bodies are refused (413); one update is a few KB. @default 1 MiB */
  maxBodyBytes?: number
}

export const MAX_SECRET_HEADER = 'x-max-bot-api-secret'

const AccountIdParam = v.pipe(v.string(), v.uuid())
const digest = (value: string) => createHash('sha256').update(value).digest()

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function secretsMatch(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false
  return timingSafeEqual(digest(given), digest(expected))
}

export function createMaxWebhookRoutes(deps: MaxWebhookDeps): Hono {
  const maxBody = deps.maxBodyBytes ?? 1024 * 1024
  const count = (outcome: string) => deps.metrics.webhookDeliveries.inc({ outcome })

  /** The account's webhook secret, when the account is a live MAX account of this installation. */
  async function expectedSecret(accountId: string): Promise<string | undefined> {
    const account = await deps.repos.accounts.get(accountId).catch(() => undefined)
    if (account?.messenger !== 'max' || account.health === 'disconnected') return undefined
    return deps.repos.accountSessions.getText(accountId, SESSION_KEYS.webhookSecret)
  }

  return new Hono().post('/max/webhook/:accountId', async (c) => {
    const param = v.safeParse(AccountIdParam, c.req.param('accountId'))
    const expected = param.success ? await expectedSecret(param.output) : undefined
    if (!param.success || !secretsMatch(c.req.header(MAX_SECRET_HEADER), expected)) {
      count('unauthorized')
      return c.json({ error: 'unauthorized' }, 401)
    }
    const accountId = param.output
    const declared = Number(c.req.header('content-length'))
    if (Number.isFinite(declared) && declared > maxBody) {
      count('bad_request')
      return c.json({ error: 'too_large' }, 413)
    }
    const raw = await c.req.text()
    if (raw.length > maxBody) {
      count('bad_request')
      return c.json({ error: 'too_large' }, 413)
    }
    let json: unknown
    try {
      json = JSON.parse(raw)
    } catch {
      count('bad_request')
      return c.json({ error: 'not_json' }, 400)
    }
    const parsed = parseUpdate(json)
    if (parsed.kind !== 'handled') {
      const reason = parsed.kind === 'unknown' ? `type:${parsed.type}` : `malformed:${parsed.type}`
      deps.metrics.skipped.inc({ reason: skipReason(reason) })
      count('ignored')
      deps.log.info(
        {
          accountId,
          reason: skipReason(reason),
          ...(parsed.kind === 'malformed' ? { paths: parsed.paths } : {}),
        },
        'max webhook: update acknowledged, not handled',
      )
      return c.json({ ok: true })
    }
    // Stored only while the secret is still there: a delivery racing a logout leaves nothing behind.
    const { live, created } = await deps.repos.maxUpdates.insertWhileLive(
      { accountId, key: parsed.key, type: parsed.update.update_type, raw },
      SESSION_KEYS.webhookSecret,
    )
    if (!live) {
      count('unauthorized')
      return c.json({ error: 'unauthorized' }, 401)
    }
    count(created ? 'stored' : 'duplicate')
    if (created) deps.onStored(accountId)
    return c.json({ ok: true })
  })
}
