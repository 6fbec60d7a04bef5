/**
 * @module `/accounts`: list with health, one account, bind to an Open Line, name the employee its owner's
 * own messages are shown as, disconnect. (Creating an account is a login: `logins.ts`.)
 */
import { type Context, Hono } from 'hono'
import type { Tx } from '../../../storage/db.ts'
import { type Account, AccountNotFoundError } from '../../../storage/repos/accounts.ts'
import { LineNotFoundError } from '../../../storage/repos/lines.ts'
import { relaysOwnMessages } from '../../relay/own-messages.ts'
import { checkScope, type Guard } from './access.ts'
import { audit } from './audit.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, notFound } from './errors.ts'
import { defineRoute } from './routes.ts'
import {
  AccountIdParams,
  AccountList,
  AccountsQuery,
  AccountView,
  BindLineBody,
  SetEmployeeBody,
} from './schemas.ts'
import { validJson, validParam, validQuery } from './validate.ts'
import { accountView } from './views.ts'

const tag = 'accounts'

export const accountSpecs = {
  list: defineRoute({
    method: 'GET',
    path: '/accounts',
    permission: 'accounts:read',
    scope: 'portal',
    summary: "A portal's accounts with their health (a portal-scoped token may omit `portal`)",
    tag,
    query: AccountsQuery,
    responses: { 200: { description: 'The accounts', schema: AccountList } },
  }),
  get: defineRoute({
    method: 'GET',
    path: '/accounts/:id',
    permission: 'accounts:read',
    scope: 'portal',
    summary: 'One account with its health',
    tag,
    params: AccountIdParams,
    responses: { 200: { description: 'The account', schema: AccountView } },
  }),
  bindLine: defineRoute({
    method: 'POST',
    path: '/accounts/:id/line',
    permission: 'accounts:write',
    scope: 'portal',
    summary: 'Binds the account to an Open Line of its portal (`lines.id`), or unbinds it with null',
    tag,
    params: AccountIdParams,
    body: BindLineBody,
    responses: {
      200: { description: 'The account as bound now', schema: AccountView },
      422: { description: 'No such line in the account’s portal' },
    },
  }),
  setEmployee: defineRoute({
    method: 'POST',
    path: '/accounts/:id/employee',
    permission: 'accounts:write',
    scope: 'portal',
    summary:
      "Names the Bitrix24 employee the account owner's own messages (typed on the phone) are shown as in " +
      'the Open Line, or null: they are not relayed (Telegram and sandbox accounts; a MAX bot has no owner)',
    tag,
    params: AccountIdParams,
    body: SetEmployeeBody,
    responses: {
      200: { description: 'The account as set now', schema: AccountView },
      422: { description: 'The account’s messenger has no owner who writes from a phone (MAX)' },
    },
  }),
  disconnect: defineRoute({
    method: 'POST',
    path: '/accounts/:id/disconnect',
    permission: 'accounts:write',
    scope: 'portal',
    summary: 'Disconnects the account: its actor stops and its session and contacts are deleted (R1, R2)',
    tag,
    params: AccountIdParams,
    responses: { 200: { description: 'The account after the disconnect', schema: AccountView } },
  }),
}

async function loadAccount(deps: AdminDeps, id: string) {
  try {
    return await deps.repos.accounts.get(id)
  } catch (error) {
    if (error instanceof AccountNotFoundError) throw notFound('account')
    throw error
  }
}

export function accountRoutes(deps: AdminDeps, guard: Guard): Hono<AdminEnv> {
  const { accounts, lines } = deps.repos

  /** One change of an account and its audit entry, in one transaction; answers with the account after it. */
  async function changeAccount(
    c: Context<AdminEnv>,
    account: Account,
    entry: { action: string; details: Record<string, unknown> },
    write: (tx: Tx) => Promise<unknown>,
  ) {
    await deps.sql.begin(async (tx) => {
      await write(tx)
      await audit(deps, c, { ...entry, portalId: account.portalId, target: `account:${account.id}` }, tx)
    })
    return c.json(accountView(await accounts.get(account.id)))
  }

  return new Hono<AdminEnv>()
    .get('/accounts', guard(accountSpecs.list), validQuery(AccountsQuery), async (c) => {
      const portalId = c.req.valid('query').portal ?? c.get('principal').portalId
      if (!portalId) {
        throw new ApiError(400, 'portal_required', 'Name the portal: ?portal=<portal id>')
      }
      await checkScope(deps, c, portalId)
      const list = await accounts.listByPortal(portalId)
      return c.json({ accounts: list.map(accountView) })
    })
    .get('/accounts/:id', guard(accountSpecs.get), validParam(AccountIdParams), async (c) => {
      const account = await loadAccount(deps, c.req.valid('param').id)
      await checkScope(deps, c, account.portalId)
      return c.json(accountView(account))
    })
    .post(
      '/accounts/:id/line',
      guard(accountSpecs.bindLine),
      validParam(AccountIdParams),
      validJson(BindLineBody),
      async (c) => {
        const account = await loadAccount(deps, c.req.valid('param').id)
        await checkScope(deps, c, account.portalId)
        const { lineId } = c.req.valid('json')
        if (lineId !== null) {
          const line = await lines.get(lineId).catch((error) => {
            if (error instanceof LineNotFoundError) return undefined
            throw error
          })
          // Missing and foreign look alike: a scoped token learns nothing about other portals' lines.
          if (line?.portalId !== account.portalId) {
            throw new ApiError(422, 'invalid_line', "No such Open Line in the account's portal")
          }
        }
        const action = lineId === null ? 'account.line_unbound' : 'account.line_bound'
        return changeAccount(
          c,
          account,
          { action, details: { lineId, previousLineId: account.lineId } },
          (tx) => accounts.bindLine(account.id, lineId, tx),
        )
      },
    )
    .post(
      '/accounts/:id/employee',
      guard(accountSpecs.setEmployee),
      validParam(AccountIdParams),
      validJson(SetEmployeeBody),
      async (c) => {
        const account = await loadAccount(deps, c.req.valid('param').id)
        await checkScope(deps, c, account.portalId)
        const { employeeId } = c.req.valid('json')
        if (employeeId !== null && !relaysOwnMessages(account.messenger)) {
          throw new ApiError(
            422,
            'own_messages_unsupported',
            `A ${account.messenger} account has no owner writing from a phone`,
          )
        }
        const action = employeeId === null ? 'account.employee_cleared' : 'account.employee_set'
        const details = { employeeId, previousEmployeeId: account.employeeId }
        return changeAccount(c, account, { action, details }, (tx) =>
          accounts.setEmployee(account.id, employeeId, tx),
        )
      },
    )
    .post(
      '/accounts/:id/disconnect',
      guard(accountSpecs.disconnect),
      validParam(AccountIdParams),
      async (c) => {
        const account = await loadAccount(deps, c.req.valid('param').id)
        await checkScope(deps, c, account.portalId)
        const entry = { portalId: account.portalId, target: `account:${account.id}` }
        try {
          await deps.accountControl.stop(account.id)
        } catch (error) {
          await audit(deps, c, { action: 'account.disconnect_failed', ...entry })
          throw error
        }
        await audit(deps, c, { action: 'account.disconnected', ...entry })
        // The runtime may delete the row on disconnect (D2): then answer with what it was.
        const after = await accounts.get(account.id).catch(() => undefined)
        return c.json(accountView(after ?? { ...account, health: 'disconnected' }))
      },
    )
}
