/**
 * @module `/dead-letters`: deliveries that failed for good, with their reason (metadata only — never the
 * body), and a retry that queues one again while R8 allows it.
 */
import { Hono } from 'hono'
import { AccountNotFoundError } from '../../../storage/repos/accounts.ts'
import { checkScope, type Guard } from './access.ts'
import { audit } from './audit.ts'
import { findDeadLetter, listDeadLetters, retryDeadLetter } from './dead-letter-queries.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, notFound } from './errors.ts'
import { defineRoute } from './routes.ts'
import { DeadLetterIdParams, DeadLetterList, DeadLettersQuery, RetriedView } from './schemas.ts'
import { validParam, validQuery } from './validate.ts'
import { deadLetterView } from './views.ts'

const tag = 'dead-letters'

export const deadLetterSpecs = {
  list: defineRoute({
    method: 'GET',
    path: '/dead-letters',
    permission: 'deliveries:read',
    scope: 'portal',
    summary: "Dead letters, newest first: of one account, or of the token's portal (all for support)",
    tag,
    query: DeadLettersQuery,
    responses: { 200: { description: 'The dead letters', schema: DeadLetterList } },
  }),
  retry: defineRoute({
    method: 'POST',
    path: '/dead-letters/:id/retry',
    permission: 'deliveries:write',
    scope: 'portal',
    summary: 'Queues a dead letter again (while its body exists, at most 7 days after it was queued — R8)',
    tag,
    params: DeadLetterIdParams,
    responses: {
      200: { description: 'Back in the queue', schema: RetriedView },
      404: { description: 'No such dead letter' },
      409: { description: 'Its body is gone (delivered parts or the 7 days passed): cannot be sent again' },
    },
  }),
}

export function deadLetterRoutes(deps: AdminDeps, guard: Guard): Hono<AdminEnv> {
  return new Hono<AdminEnv>()
    .get('/dead-letters', guard(deadLetterSpecs.list), validQuery(DeadLettersQuery), async (c) => {
      const { account: accountId, limit = 100 } = c.req.valid('query')
      let portalId = c.get('principal').portalId ?? undefined
      // No account named: the caller's own portal (every portal for unscoped support).
      if (accountId === undefined) await checkScope(deps, c, portalId ?? null)
      else {
        const account = await deps.repos.accounts.get(accountId).catch((error) => {
          if (error instanceof AccountNotFoundError) throw notFound('account')
          throw error
        })
        await checkScope(deps, c, account.portalId)
        portalId = account.portalId
      }
      const rows = await listDeadLetters(deps.sql, { accountId, portalId, limit })
      return c.json({ deadLetters: rows.map(deadLetterView) })
    })
    .post(
      '/dead-letters/:id/retry',
      guard(deadLetterSpecs.retry),
      validParam(DeadLetterIdParams),
      async (c) => {
        const { id } = c.req.valid('param')
        const row = await findDeadLetter(deps.sql, id)
        if (!row) throw notFound('dead letter')
        await checkScope(deps, c, row.portalId)
        const retried = await deps.sql.begin(async (tx) => {
          if (!(await retryDeadLetter(tx, id))) return false
          await audit(
            deps,
            c,
            {
              action: 'dead_letter.retried',
              portalId: row.portalId,
              target: `delivery:${id}`,
              details: { accountId: row.accountId, direction: row.direction, kind: row.kind },
            },
            tx,
          )
          return true
        })
        if (!retried) {
          throw new ApiError(
            409,
            'not_retryable',
            'The body of this dead letter is gone; it cannot be sent again',
          )
        }
        deps.onDeadLetterRetried?.({ id, accountId: row.accountId, direction: row.direction })
        return c.json({ id, status: 'pending' as const })
      },
    )
}
