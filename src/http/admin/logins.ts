/**
 * @module Connecting an account is a login: `POST /accounts` opens the connector's login flow and answers
 * its first step; `POST /logins/:loginId/steps` submits a `user-input` step (or waits after a
 * `display-and-wait` one) and answers the next. On `complete` the account row and its sealed session are
 * stored in one transaction and the runtime is asked to start it. `POST /accounts/:id/login` opens the same
 * flow for an existing account whose session is gone; its completion replaces that account's session
 * instead (`relogin.ts`) and the runtime restarts it. Logins live in this process's memory
 * (`login-registry.ts`). Every step is audited, never the values typed (P2).
 */
import { randomUUID } from 'node:crypto'
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { Account } from '../../../storage/repos/accounts.ts'
import type { ConnectorName } from '../../bridge/connector.ts'
import { UnknownLoginFlowError } from '../../bridge/errors.ts'
import { toAccountId, toLoginFlowId } from '../../bridge/ids.ts'
import type { CompleteStep, LoginStep } from '../../bridge/login.ts'
import { checkScope, type Guard } from './access.ts'
import { audit } from './audit.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, notFound } from './errors.ts'
import { stepFailure } from './login-errors.ts'
import { LoginRegistry, MemorySessionStore, type PendingLogin, TooManyLoginsError } from './login-registry.ts'
import { accountOr404, assertCanRelogin, logOutRefused, storeRelogin } from './relogin.ts'
import { defineRoute } from './routes.ts'
import {
  AccountIdParams,
  CreateAccountBody,
  LoginIdParams,
  LoginStepBody,
  LoginView,
  type LoginViewT,
  ReloginBody,
} from './schemas.ts'
import { validJson, validParam } from './validate.ts'
import { accountView, stepView } from './views.ts'

const tag = 'logins'
const DEFAULT_TTL_MS = 10 * 60_000

export const loginSpecs = {
  create: defineRoute({
    method: 'POST',
    path: '/accounts',
    permission: 'accounts:write',
    scope: 'portal',
    summary: 'Connects a new account: starts a login flow of the messenger and answers its first step',
    tag,
    body: CreateAccountBody,
    responses: {
      201: { description: 'The login and its first step', schema: LoginView },
      404: { description: 'No such portal' },
      422: { description: 'The messenger is not available here, or the flow is unknown' },
    },
  }),
  relogin: defineRoute({
    method: 'POST',
    path: '/accounts/:id/login',
    permission: 'accounts:write',
    scope: 'portal',
    summary:
      'Logs an existing account in again (its session was revoked, or it was disconnected): starts a login ' +
      'flow of its messenger and answers the first step; on completion the same account — line, chats, ' +
      'history — gets the new session. The same person or bot must log in',
    tag,
    params: AccountIdParams,
    body: ReloginBody,
    responses: {
      201: { description: 'The login and its first step', schema: LoginView },
      404: { description: 'No such account' },
      409: {
        description:
          'The account has a live session or is being disconnected (`account_active`: only `needs_login` ' +
          'and `disconnected` accounts log in again), or its re-login here has a step under way',
      },
      422: { description: 'The messenger is not available here, or the flow is unknown' },
    },
  }),
  step: defineRoute({
    method: 'POST',
    path: '/logins/:loginId/steps',
    permission: 'accounts:write',
    scope: 'portal',
    summary:
      'Submits the current step (`input` for a user-input step; nothing after display-and-wait, which ' +
      'waits) and answers the next one; a complete step carries the stored account',
    tag,
    params: LoginIdParams,
    body: LoginStepBody,
    responses: {
      200: { description: 'The next step', schema: LoginView },
      404: {
        description:
          'No such login here (expired, finished, or started by another process), or the account of a ' +
          're-login was deleted meanwhile',
      },
      409: {
        description:
          'Another step of this login is being handled; or a re-login completed for another person or bot ' +
          'than the account had (`different_account`: nothing stored, the login logged out) or for an account ' +
          'that got a session meanwhile (`account_active`)',
      },
      422: { description: 'A value was wrong: the same step may be submitted again (ru/en explanation)' },
      429: { description: 'Flood wait: repeat after Retry-After seconds' },
      503: { description: 'The messenger cannot be reached' },
    },
  }),
  cancel: defineRoute({
    method: 'DELETE',
    path: '/logins/:loginId',
    permission: 'accounts:write',
    scope: 'portal',
    summary: 'Abandons a login in progress',
    tag,
    params: LoginIdParams,
    responses: { 204: { description: 'Cancelled' }, 404: { description: 'No such login here' } },
  }),
}

export function loginRoutes(deps: AdminDeps, guard: Guard): Hono<AdminEnv> {
  const logins = new LoginRegistry(deps.options?.loginTtlMs ?? DEFAULT_TTL_MS)

  const view = (login: PendingLogin, extra: Partial<LoginViewT> = {}): LoginViewT => ({
    loginId: login.id,
    portalId: login.portalId,
    messenger: login.messenger,
    flow: login.flow,
    expiresAt: new Date(login.expiresAt).toISOString(),
    step: stepView(login.step, login.accountId),
    ...extra,
  })

  /** The flow ended: store the account and its session, then ask the runtime to run it. */
  async function complete(c: Context<AdminEnv>, login: PendingLogin, step: CompleteStep) {
    logins.forget(login.id)
    const result = step.account
    const account = await deps.sql.begin(async (tx) => {
      const created = await deps.repos.accounts.create(
        {
          id: login.accountId,
          portalId: login.portalId,
          messenger: login.messenger,
          remoteId: result.remoteId,
          displayName: result.displayName ?? null,
          username: result.username ?? null,
          phone: result.phone ?? null,
          credentials: result.credentials ?? null,
          health: 'connecting',
        },
        tx,
      )
      for (const [key, value] of login.session.entries()) {
        await deps.repos.accountSessions.set(created.id, key, value, tx)
      }
      const entry = { portalId: login.portalId, target: `account:${created.id}` }
      const details = { messenger: login.messenger, flow: login.flow, loginId: login.id }
      await audit(deps, c, { action: 'account.connected', ...entry, details }, tx)
      return created
    })
    let started = true
    try {
      await deps.accountControl.start(account.id)
    } catch (error) {
      // The account is stored: the supervisor still picks it up at its next claim round.
      started = false
      deps.log.error({ err: error, accountId: account.id }, 'admin API: could not start a new account')
    }
    return view(login, { account: accountView(account), started })
  }

  /** A re-login ended: replace the account's session (or refuse and undo), then have the runtime restart it. */
  async function completeRelogin(c: Context<AdminEnv>, login: PendingLogin, step: CompleteStep) {
    logins.forget(login.id)
    const target = { portalId: login.portalId, target: `account:${login.accountId}` }
    let account: Account
    try {
      account = await storeRelogin(deps, c, login, step.account)
    } catch (error) {
      if (!(error instanceof ApiError)) throw error
      await login.process.cancel().catch(() => {})
      // Whatever the reason, the new authorization must not linger at the messenger: a login runs on a session
      // of its own (Telegram's is staged in memory until the account's client imports it), so logging it out
      // touches nothing the account runs on.
      const loggedOut = await logOutRefused(deps, login, step.account)
      const details = { reason: error.code, loginId: login.id, loggedOut }
      await audit(deps, c, { action: 'account.relogin_refused', ...target, details })
      throw error
    }
    let started = true
    try {
      await deps.accountControl.relogin(account.id)
    } catch (error) {
      // Stored as `connecting`: the owner's catch-up (or any lease keeper, if nobody owns it) picks it up.
      started = false
      deps.log.error(
        { err: error, accountId: account.id },
        'admin API: could not restart a re-logged account',
      )
    }
    return view(login, { account: accountView(account), started })
  }

  async function advance(c: Context<AdminEnv>, login: PendingLogin, next: LoginStep) {
    login.step = next
    logins.touch(login)
    if (next.type !== 'complete') return view(login)
    return login.relogin ? completeRelogin(c, login, next) : complete(c, login, next)
  }

  /** Opens a login of `messenger` that names `accountId` and answers its first step (201). */
  async function openLogin(
    c: Context<AdminEnv>,
    input: {
      portalId: string
      messenger: ConnectorName
      flow: string | undefined
      accountId: string
      relogin: boolean
      session: MemorySessionStore
    },
  ) {
    const { messenger, accountId, session } = input
    const connector = deps.connectors.get(messenger)
    if (!connector) {
      throw new ApiError(422, 'messenger_unavailable', `This instance has no ${messenger} connector`)
    }
    const flows = connector.loginFlows().map((flow) => flow.id as string)
    const flow = input.flow ?? flows[0]
    if (flow === undefined || !flows.includes(flow)) {
      throw new ApiError(422, 'unknown_flow', `Login flows of ${messenger}: ${flows.join(', ')}`, { flows })
    }
    const controller = new AbortController()
    let process: PendingLogin['process']
    try {
      process = connector.createLogin(toLoginFlowId(flow), {
        accountId: toAccountId(accountId),
        session,
        signal: controller.signal,
      })
    } catch (error) {
      if (!(error instanceof UnknownLoginFlowError)) throw error
      throw new ApiError(422, 'unknown_flow', `Login flows of ${messenger}: ${flows.join(', ')}`, { flows })
    }
    const first = await process.start()
    let login: PendingLogin
    try {
      const id = logins.newId()
      login = logins.add({
        id,
        portalId: input.portalId,
        messenger,
        flow,
        accountId,
        relogin: input.relogin,
        process,
        session,
        controller,
        step: first,
      })
    } catch (error) {
      await process.cancel().catch(() => {})
      if (!(error instanceof TooManyLoginsError)) throw error
      throw new ApiError(429, 'too_many_logins', 'Too many logins in progress; finish or cancel some')
    }
    await audit(deps, c, {
      action: 'login.started',
      portalId: input.portalId,
      target: `login:${login.id}`,
      details: { messenger, flow, accountId, ...(input.relogin ? { relogin: true } : {}) },
    })
    return c.json(await advance(c, login, first), 201)
  }

  return new Hono<AdminEnv>()
    .post('/accounts', guard(loginSpecs.create), validJson(CreateAccountBody), async (c) => {
      const body = c.req.valid('json')
      await checkScope(deps, c, body.portalId)
      const portal = await deps.repos.portals.get(body.portalId).catch(() => undefined)
      if (!portal) throw notFound('portal')
      return openLogin(c, {
        portalId: portal.id,
        messenger: body.messenger as ConnectorName,
        flow: body.flow,
        accountId: randomUUID(),
        relogin: false,
        session: new MemorySessionStore(),
      })
    })
    .post(
      '/accounts/:id/login',
      guard(loginSpecs.relogin),
      validParam(AccountIdParams),
      validJson(ReloginBody),
      async (c) => {
        const account = await accountOr404(deps, c.req.valid('param').id)
        await checkScope(deps, c, account.portalId)
        assertCanRelogin(account.health)
        // A new re-login of the account replaces one left pending here (an abandoned form).
        const pending = logins.reloginOf(account.id)
        if (pending?.busy)
          throw new ApiError(409, 'login_busy', 'A step of this account’s login is being handled')
        if (pending && (await logins.cancel(pending.id))) {
          const details = { replaced: true }
          await audit(deps, c, {
            action: 'login.cancelled',
            portalId: pending.portalId,
            target: `login:${pending.id}`,
            details,
          })
        }
        // The connector sees the session the account had, as for a re-login of its own: the sandbox resumes
        // its update position there, so what customers wrote meanwhile still arrives. Only kept if the same
        // person logs in (`storeRelogin`).
        const session = new MemorySessionStore()
        for (const entry of await deps.repos.accountSessions.list(account.id)) {
          await session.set(entry.key, entry.value)
        }
        return openLogin(c, {
          portalId: account.portalId,
          messenger: account.messenger,
          flow: c.req.valid('json').flow,
          accountId: account.id,
          relogin: true,
          session,
        })
      },
    )
    .post(
      '/logins/:loginId/steps',
      guard(loginSpecs.step),
      validParam(LoginIdParams),
      validJson(LoginStepBody),
      async (c) => {
        const login = logins.get(c.req.valid('param').loginId)
        if (!login) throw notFound('login')
        await checkScope(deps, c, login.portalId)
        if (login.busy) throw new ApiError(409, 'login_busy', 'Another step of this login is being handled')
        const { input } = c.req.valid('json')
        const current = login.step
        if (current.type === 'user-input' && input === undefined) {
          throw new ApiError(400, 'invalid_request', 'This step needs `input`', {
            step: stepView(current, login.accountId),
          })
        }
        const entry = { portalId: login.portalId, target: `login:${login.id}` }
        login.busy = true
        let next: LoginStep
        try {
          next =
            current.type === 'user-input'
              ? await login.process.submit(input ?? {})
              : await login.process.wait()
        } catch (error) {
          const failure = stepFailure(error, stepView(current, login.accountId))
          const outcome = failure?.outcome ?? 'error'
          await audit(deps, c, {
            action: 'login.step',
            ...entry,
            details: { stepId: current.stepId, outcome },
          })
          throw failure?.error ?? error
        } finally {
          login.busy = false
        }
        await audit(deps, c, {
          action: 'login.step',
          ...entry,
          details: { stepId: current.stepId, outcome: 'ok', next: next.stepId },
        })
        return c.json(await advance(c, login, next))
      },
    )
    .delete('/logins/:loginId', guard(loginSpecs.cancel), validParam(LoginIdParams), async (c) => {
      const login = logins.get(c.req.valid('param').loginId)
      if (!login) throw notFound('login')
      await checkScope(deps, c, login.portalId)
      await logins.cancel(login.id)
      await audit(deps, c, {
        action: 'login.cancelled',
        portalId: login.portalId,
        target: `login:${login.id}`,
      })
      return c.body(null, 204)
    })
}
