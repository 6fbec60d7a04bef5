/**
 * @module The HTTP control API under `/_emulator/` — the in-process handle's methods for another process (an Olchat
 * under test, a benchmark). JSON in and out, bodies checked with valibot; a bad body or an impossible action is
 * 400 `{"error": "..."}` and changes nothing. File bytes travel as base64. Routes are listed in README.md.
 */
import * as v from 'valibot'
import type { MaxEmulatorServer } from './index.ts'
import { json } from './json.ts'

const Token = v.pipe(v.string(), v.minLength(1))
const UserRef = v.object({ token: Token, userId: v.number() })
const Count = v.pipe(v.number(), v.integer(), v.minValue(0))

const SendBody = v.object({
  ...UserRef.entries,
  text: v.optional(v.string()),
  file: v.optional(
    v.object({
      name: v.string(),
      mime: v.string(),
      base64: v.string(),
      type: v.optional(v.picklist(['image', 'video', 'audio', 'file'])),
    }),
  ),
  attachment: v.optional(v.unknown()),
  sticker: v.optional(
    v.object({ code: v.optional(v.string()), width: v.optional(v.number()), height: v.optional(v.number()) }),
  ),
  contact: v.optional(v.object({ name: v.string(), phone: v.string(), ownAccount: v.optional(v.boolean()) })),
  location: v.optional(v.object({ latitude: v.number(), longitude: v.number() })),
  share: v.optional(
    v.object({ url: v.string(), title: v.optional(v.string()), description: v.optional(v.string()) }),
  ),
  link: v.optional(v.object({ type: v.picklist(['reply', 'forward']), mid: v.string() })),
})

const Settings = v.object({
  rateLimitPerSecond: v.optional(v.nullable(v.pipe(v.number(), v.minValue(0)))),
  pollRateLimitPerSecond: v.optional(v.nullable(v.pipe(v.number(), v.minValue(0)))),
  webhook: v.optional(
    v.partial(
      v.object({
        firstRetryMs: Count,
        retryFactor: v.pipe(v.number(), v.minValue(1)),
        maxRetries: Count,
        unsubscribeAfterMs: Count,
        timeoutMs: Count,
      }),
    ),
  ),
  notReadyAttempts: v.optional(Count),
  noMarker: v.optional(v.picklist(['uncommitted', 'latest'])),
  requireHttpsWebhooks: v.optional(v.boolean()),
  editWindowMs: v.optional(Count),
})

class ControlError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

async function body<S extends v.GenericSchema>(req: Request, schema: S): Promise<v.InferOutput<S>> {
  let raw: unknown = {}
  const text = await req.text()
  if (text.trim() !== '') {
    try {
      raw = JSON.parse(text)
    } catch {
      throw new ControlError('The body is not valid JSON')
    }
  }
  const result = v.safeParse(schema, raw)
  if (!result.success) {
    const issue = result.issues[0]
    throw new ControlError(`${issue.path?.map((p) => String(p.key)).join('.') || 'body'}: ${issue.message}`)
  }
  return result.output
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

export async function handleControl(emu: MaxEmulatorServer, req: Request, url: URL): Promise<Response> {
  const route = `${req.method} ${url.pathname.replace(/^\/_emulator\/?/, '/')}`
  try {
    return json(200, await dispatch(emu, req, url, route))
  } catch (e) {
    if (e instanceof ControlError) return json(e.status, { error: e.message })
    // The customer actions throw plain Errors for impossible requests (unknown user, someone else's message).
    if (e instanceof Error) return json(400, { error: e.message })
    throw e
  }
}

async function dispatch(emu: MaxEmulatorServer, req: Request, url: URL, route: string): Promise<unknown> {
  const token = () => {
    const t = url.searchParams.get('token')
    if (!t) throw new ControlError('token is required')
    return t
  }
  switch (route) {
    case 'GET /':
      return emu.info()
    case 'GET /stats':
      return emu.stats()
    case 'POST /stats/reset':
      emu.resetStats()
      return { ok: true }
    case 'POST /bots':
      return emu.createBot(
        await body(req, v.object({ name: v.optional(v.string()), username: v.optional(v.string()) })),
      )
    case 'POST /bots/edit': {
      const { token: t, ...input } = await body(
        req,
        v.object({
          token: Token,
          name: v.optional(v.pipe(v.string(), v.minLength(1))),
          username: v.optional(v.pipe(v.string(), v.minLength(1))),
          photo: v.optional(v.picklist(['new', 'none'])),
        }),
      )
      return emu.ownerEditsBot(t, input)
    }
    case 'POST /users':
      return emu.createUser(
        await body(
          req,
          v.object({
            name: v.optional(v.string()),
            lastName: v.optional(v.string()),
            username: v.optional(v.string()),
          }),
        ),
      )
    case 'POST /users/send': {
      const { token: t, userId, file, ...rest } = await body(req, SendBody)
      const input = file
        ? { ...rest, file: { ...file, bytes: new Uint8Array(Buffer.from(file.base64, 'base64')) } }
        : rest
      return emu.userSends(t, userId, input)
    }
    case 'POST /users/edit': {
      const b = await body(req, v.object({ ...UserRef.entries, mid: v.string(), text: v.string() }))
      await emu.userEdits(b.token, b.userId, b.mid, b.text)
      return { ok: true }
    }
    case 'POST /users/delete': {
      const b = await body(req, v.object({ ...UserRef.entries, mid: v.string() }))
      await emu.userDeletes(b.token, b.userId, b.mid)
      return { ok: true }
    }
    case 'POST /users/start': {
      const b = await body(req, v.object({ ...UserRef.entries, payload: v.optional(v.string()) }))
      return emu.userStartsBot(b.token, b.userId, b.payload)
    }
    case 'POST /users/stop': {
      const b = await body(req, UserRef)
      await emu.userStopsBot(b.token, b.userId)
      return { ok: true }
    }
    case 'POST /users/remove-dialog': {
      const b = await body(req, UserRef)
      await emu.userRemovesDialog(b.token, b.userId)
      return { ok: true }
    }
    case 'POST /users/press-button': {
      const b = await body(req, v.object({ ...UserRef.entries, mid: v.string(), payload: v.string() }))
      return emu.userPressesButton(b.token, b.userId, b.mid, b.payload)
    }
    case 'POST /updates': {
      const b = await body(req, v.object({ token: Token, update: v.record(v.string(), v.unknown()) }))
      emu.injectUpdate(b.token, b.update)
      return { ok: true }
    }
    case 'GET /messages': {
      const chatId = Number(url.searchParams.get('chat_id'))
      if (!Number.isInteger(chatId)) throw new ControlError('chat_id is required')
      const messages = emu.botMessages(token(), chatId).map((m) => ({
        ...m,
        attachments: m.attachments.map(({ bytes, ...a }) => (bytes ? { ...a, base64: base64(bytes) } : a)),
      }))
      return { messages }
    }
    case 'GET /dialogs':
      return { dialogs: emu.dialogs(token()) }
    case 'GET /subscriptions':
      return { subscriptions: emu.subscriptions(token()) }
    case 'POST /settings':
      emu.configure(await body(req, Settings))
      return { ok: true }
    case 'POST /faults/rate-limit':
      emu.faults.rateLimit((await body(req, v.object({ requests: Count }))).requests)
      return { ok: true }
    case 'POST /faults/attachment-not-ready':
      emu.faults.attachmentNotReady((await body(req, v.object({ sends: Count }))).sends)
      return { ok: true }
    case 'POST /faults/fail-next':
      emu.faults.failNext((await body(req, v.object({ code: v.optional(v.string()) }))).code)
      return { ok: true }
    case 'POST /faults/revoke-token':
      emu.faults.revokeToken((await body(req, v.object({ token: Token }))).token)
      return { ok: true }
    case 'POST /faults/server-error': {
      const b = await body(
        req,
        v.object({ requests: Count, status: v.optional(v.pipe(v.number(), v.integer())) }),
      )
      emu.faults.serverError(b.requests, b.status)
      return { ok: true }
    }
    case 'POST /faults/duplicate-deliveries':
      emu.faults.duplicateDeliveries((await body(req, v.object({ deliveries: Count }))).deliveries)
      return { ok: true }
    case 'POST /faults/clear':
      emu.faults.clear()
      return { ok: true }
    default:
      throw new ControlError(`No control route ${route}`, 404)
  }
}
