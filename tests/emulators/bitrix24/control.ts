/**
 * @module The HTTP control API on each portal listener under `/_emulator/` (test-only, §10 "operator actions
 * API"). GET `state|stats|deliveries|info`; every action is `POST /_emulator/<kebab-name>` with a JSON body
 * validated by valibot and answers the same JSON the in-process method returns.
 */
import * as v from 'valibot'
import { json } from './http-util.ts'
import { ControlError } from './lifecycle.ts'
import type { PortalControl } from './portal-control.ts'

const int = v.pipe(v.number(), v.integer())
const optionalInt = v.optional(int)
const clientUser = v.object({ clientId: v.optional(v.string()), userId: optionalInt })
const connectorLine = v.object({
  connector: v.pipe(v.string(), v.minLength(1)),
  line: int,
  userId: optionalInt,
})
const fileInput = v.object({
  name: v.pipe(v.string(), v.minLength(1)),
  mime: v.optional(v.string()),
  base64: v.optional(v.string()),
  text: v.optional(v.string()),
  size: v.optional(v.pipe(int, v.minValue(0))),
  width: optionalInt,
  height: optionalInt,
})

type Action = { schema: v.GenericSchema; run: (c: PortalControl, body: never) => Promise<unknown> }

const ACTIONS: Record<string, Action> = {
  install: {
    schema: v.object({
      appUrl: v.optional(v.pipe(v.string(), v.url())),
      eventUrl: v.optional(v.pipe(v.string(), v.url())),
      clientId: v.optional(v.string()),
      userId: optionalInt,
      languageId: v.optional(v.string()),
      restOnly: v.optional(v.boolean()),
      eventFirst: v.optional(v.boolean()),
    }),
    run: (c, b) => c.install(b),
  },
  'finish-install': {
    schema: v.object({ clientId: v.optional(v.string()) }),
    run: (c, b) => c.finishInstall(b),
  },
  'open-app': {
    schema: v.object({
      url: v.pipe(v.string(), v.url()),
      userId: optionalInt,
      clientId: v.optional(v.string()),
    }),
    run: (c, b) => c.openApp(b),
  },
  'open-placement': {
    schema: v.object({
      connector: v.pipe(v.string(), v.minLength(1)),
      line: int,
      userId: optionalInt,
      connect: v.optional(v.boolean()),
    }),
    run: (c, b) => c.openPlacement(b),
  },
  'update-app': {
    schema: v.object({ clientId: v.optional(v.string()), version: optionalInt, userId: optionalInt }),
    run: (c, b) => c.updateApp(b),
  },
  uninstall: {
    schema: v.object({ clientId: v.optional(v.string()), clean: v.optional(v.boolean()) }),
    run: (c, b) => c.uninstall(b),
  },
  'connect-line': { schema: connectorLine, run: (c, b) => c.connectLine(b) },
  'disconnect-line': { schema: connectorLine, run: (c, b) => c.disconnectLine(b) },
  'add-line': {
    schema: v.object({ name: v.pipe(v.string(), v.minLength(1)), id: optionalInt }),
    run: (c, b) => c.addLine(b),
  },
  'delete-line': { schema: v.object({ line: int, userId: optionalInt }), run: (c, b) => c.deleteLine(b) },
  'post-operator-message': {
    schema: v.object({
      chatId: int,
      text: v.optional(v.string()),
      files: v.optional(v.array(fileInput)),
      userId: optionalInt,
      system: v.optional(v.boolean()),
      important: v.optional(v.boolean()),
      silent: v.optional(v.boolean()),
    }),
    run: (c, b) => c.postOperatorMessage(b),
  },
  'edit-operator-message': {
    schema: v.object({ messageId: int, text: v.string(), userId: optionalInt }),
    run: (c, b) => c.editOperatorMessage(b),
  },
  'delete-operator-message': {
    schema: v.object({ messageId: int, userId: optionalInt }),
    run: (c, b) => c.deleteOperatorMessage(b),
  },
  'close-session': {
    schema: v.object({ chatId: int, userId: optionalInt, byAgent: v.optional(v.boolean()) }),
    run: (c, b) => c.closeSession(b),
  },
  'request-rating': { schema: v.object({ chatId: int }), run: (c, b) => c.requestRating(b) },
  'expire-access-tokens': { schema: clientUser, run: (c, b) => c.expireAccessTokens(b) },
  'revoke-refresh-tokens': { schema: clientUser, run: (c, b) => c.revokeRefreshTokens(b) },
  'issue-auth-code': { schema: clientUser, run: (c, b) => c.issueAuthCode(b) },
  'issue-tokens': { schema: clientUser, run: (c, b) => c.issueTokens(b) },
  'set-payment-required': {
    schema: v.object({ required: v.boolean() }),
    run: (c, b) => c.setPaymentRequired(b),
  },
  'add-user': {
    schema: v.object({
      id: optionalInt,
      name: v.pipe(v.string(), v.minLength(1)),
      lastName: v.optional(v.string()),
      admin: v.optional(v.boolean()),
    }),
    run: (c, b) => c.addUser(b),
  },
  'set-limits': {
    schema: v.object({
      drainPerSecond: v.optional(v.pipe(v.number(), v.minValue(0))),
      burst: v.optional(v.pipe(v.number(), v.minValue(0))),
      countRejected: v.optional(v.boolean()),
      resetBucket: v.optional(v.boolean()),
      operationLimitSeconds: v.optional(v.number()),
      operationBucketMs: v.optional(v.pipe(int, v.minValue(1))),
      operationCostSeconds: v.optional(v.nullable(v.union([v.number(), v.record(v.string(), v.number())]))),
      resetOperations: v.optional(v.boolean()),
    }),
    run: (c, b) => c.setLimits(b),
  },
  'wait-for-events': { schema: v.object({}), run: (c) => c.waitForEvents() },
  'reset-stats': { schema: v.object({}), run: (c) => c.resetStats() },
}

export const CONTROL_ACTIONS = Object.keys(ACTIONS)

export async function handleControl(control: PortalControl, req: Request, url: URL): Promise<Response> {
  const name = url.pathname.slice('/_emulator/'.length).replace(/\/+$/, '')
  if (req.method === 'GET') {
    if (name === 'state') return json(200, control.state())
    if (name === 'stats') return json(200, control.stats(url.searchParams.get('bodies') === '1'))
    if (name === 'deliveries') return json(200, control.emu.stats.deliveries)
    if (name === 'info' || name === '') return json(200, { ...control.info(), actions: CONTROL_ACTIONS })
    return json(404, { error: `unknown control resource ${name}` })
  }
  const action = ACTIONS[name]
  if (req.method !== 'POST' || !action)
    return json(404, { error: `unknown control action ${req.method} ${name}` })
  let body: unknown = {}
  const text = await req.text()
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text)
    } catch {
      return json(400, { error: 'body must be JSON' })
    }
  }
  const parsed = v.safeParse(action.schema, body)
  if (!parsed.success) {
    return json(400, {
      error: 'invalid body',
      issues: parsed.issues.map((i) => `${v.getDotPath(i) ?? ''}: ${i.message}`),
    })
  }
  try {
    return json(200, await action.run(control, parsed.output as never))
  } catch (e) {
    if (e instanceof ControlError) return json(e.status, { error: e.message })
    return json(500, { error: e instanceof Error ? e.message : String(e) })
  }
}
