/**
 * @module The client API under `/v1/` — what Olchat's sandbox connector calls, JSON over HTTP with
 * `Authorization: Bearer <session>`. Every call passes the fault gate (latency, FLOOD_WAIT, dropped
 * connections) of the account it concerns before any work is done; see README.md for the endpoints.
 */
import type { Server } from 'bun'
import { ApiError, badRequest, json, notFound } from './errors.ts'
import { droppedResponse } from './faults.ts'
import { bearer, intParam, readBody } from './http.ts'
import { checkPassword, loginAccount, profileJson, sendCode, signIn } from './login.ts'
import {
  accountDelete,
  accountEdit,
  accountRead,
  accountSend,
  accountTyping,
  customerJson,
} from './messages.ts'
import * as s from './schemas.ts'
import type { Account, ConnData, Session } from './types.ts'
import { differenceResponse } from './updates.ts'
import type { World } from './world.ts'

/** Thrown by the gate: the connection is reset instead of answered. */
class Dropped extends Error {}

class Call {
  account: Account | undefined
  gated = false

  constructor(readonly world: World) {}

  async gate(account: Account | undefined): Promise<void> {
    this.account = account
    const faults = this.world.faults
    const ms = faults.latencyFor(account?.id)
    if (ms > 0) await Bun.sleep(ms)
    faults.checkFlood(account?.id)
    if (faults.takeDrop(account?.id, 'before')) throw new Dropped()
    this.gated = true
  }

  async session(req: Request, url: URL): Promise<Session> {
    const session = this.world.authenticate(bearer(req, url))
    await this.gate(session.account)
    return session
  }
}

const CHAT = /^\/v1\/chats\/(\d+)\/(messages|read|typing)(?:\/(\d+))?$/
const FILE = /^\/v1\/files\/([0-9a-f]+)$/

export async function handleClient(
  world: World,
  req: Request,
  url: URL,
  server: Server<ConnData>,
): Promise<Response | undefined> {
  if (url.pathname === '/v1/updates/ws') return upgrade(world, req, url, server)
  const call = new Call(world)
  try {
    const response = await route(call, req, url)
    if (call.gated && world.faults.takeDrop(call.account?.id, 'after')) return droppedResponse()
    return response
  } catch (e) {
    if (e instanceof Dropped) return droppedResponse()
    if (e instanceof ApiError && e.error.startsWith('FLOOD_WAIT_') && call.account) {
      world.accountCounters(call.account).floodWaits++
    }
    if (call.gated && world.faults.takeDrop(call.account?.id, 'after')) return droppedResponse()
    throw e
  }
}

async function route(call: Call, req: Request, url: URL): Promise<Response> {
  const world = call.world
  const path = url.pathname
  const method = req.method
  if (method === 'POST' && path === '/v1/auth/send-code') {
    const body = await readBody(req, s.sendCodeBody)
    await call.gate(loginAccount(world, body))
    return json(200, sendCode(world, body.phone))
  }
  if (method === 'POST' && path === '/v1/auth/sign-in') {
    const body = await readBody(req, s.signInBody)
    await call.gate(loginAccount(world, body))
    return json(200, signIn(world, body))
  }
  if (method === 'POST' && path === '/v1/auth/check-password') {
    const body = await readBody(req, s.checkPasswordBody)
    await call.gate(loginAccount(world, body))
    return json(200, checkPassword(world, body))
  }
  if (method === 'POST' && path === '/v1/auth/logout') {
    const session = await call.session(req, url)
    world.revoke(session, 'AUTH_KEY_UNREGISTERED')
    world.counters.logouts++
    return json(200, { ok: true })
  }
  if (method === 'GET' && path === '/v1/me') {
    const session = await call.session(req, url)
    return json(200, profileJson(world, session.account))
  }
  if (method === 'GET' && path === '/v1/contacts') {
    const { account } = await call.session(req, url)
    const contacts = [...(account.chats?.values() ?? [])].map((chat) => customerJson(chat.customer))
    return json(200, { contacts })
  }
  if (method === 'GET' && path === '/v1/updates') {
    const { account } = await call.session(req, url)
    return differenceResponse(world, account, intParam(url, 'after', 0), intParam(url, 'limit', 1000, 1))
  }
  if (method === 'POST' && path === '/v1/files') return upload(call, req, url)
  const file = FILE.exec(path)
  if (file && method === 'GET') {
    const { account } = await call.session(req, url)
    const meta = world.files.get(file[1]!)
    if (!meta?.readers.has(account.id)) throw badRequest('FILE_ID_INVALID', 'No such file')
    return world.files.download(meta)
  }
  const chat = CHAT.exec(path)
  if (chat) return chatCall(call, req, url, Number(chat[1]), chat[2]!, chat[3])
  throw notFound(`No ${method} ${path}`)
}

async function chatCall(call: Call, req: Request, url: URL, chatId: number, kind: string, id?: string) {
  const world = call.world
  const method = req.method
  if (kind === 'messages' && id === undefined && method === 'POST') {
    const session = await call.session(req, url)
    const body = await readBody(req, s.sendBody)
    return json(200, accountSend(world, session, chatId, body))
  }
  if (kind === 'messages' && id !== undefined && method === 'PATCH') {
    const session = await call.session(req, url)
    const body = await readBody(req, s.editBody)
    return json(200, accountEdit(world, session, chatId, Number(id), body.text))
  }
  if (kind === 'messages' && id !== undefined && method === 'DELETE') {
    const session = await call.session(req, url)
    return json(200, accountDelete(world, session, chatId, Number(id)))
  }
  if (kind === 'read' && id === undefined && method === 'POST') {
    const session = await call.session(req, url)
    const body = await readBody(req, s.markReadBody)
    return json(200, accountRead(world, session, chatId, body.maxId))
  }
  if (kind === 'typing' && id === undefined && method === 'POST') {
    const session = await call.session(req, url)
    const body = await readBody(req, s.typingBody)
    return json(200, accountTyping(world, session, chatId, body.cancel ?? false))
  }
  throw notFound(`No ${method} ${url.pathname}`)
}

/** Raw body streamed to disk; the name comes from `?name=` or a percent-encoded `x-file-name`. */
async function upload(call: Call, req: Request, url: URL): Promise<Response> {
  const session = await call.session(req, url)
  const header = req.headers.get('x-file-name')
  const name = url.searchParams.get('name') ?? (header === null ? null : decodeURIComponent(header))
  if (!name) throw badRequest('FILE_NAME_INVALID', 'Give the file name as ?name= or x-file-name')
  if (!req.body) throw badRequest('FILE_PARTS_INVALID', 'The file is empty')
  const mime = req.headers.get('content-type')?.split(';')[0]?.trim() || 'application/octet-stream'
  const meta = await call.world.files.save(name, mime, req.body, session.account.id)
  const { id, size, sha256 } = meta
  return json(200, { file: { id, name, mime, size, sha256 } })
}

/**
 * `GET /v1/updates/ws?after=<seq>`: the live connection. A refused one (bad session) is still upgraded and
 * then closed with a code and reason, because a WebSocket client cannot read an HTTP error status.
 */
function upgrade(world: World, req: Request, url: URL, server: Server<ConnData>): Response | undefined {
  const data: ConnData = { session: null, sent: 0, ready: false }
  try {
    data.sent = intParam(url, 'after', 0)
    data.session = world.authenticate(bearer(req, url))
  } catch (e) {
    if (!(e instanceof ApiError)) throw e
    data.refuse = { code: 4000 + e.status, reason: e.error }
  }
  if (server.upgrade(req, { data })) return undefined
  return json(400, { error: 'BAD_REQUEST', code: 400, message: 'Expected a WebSocket upgrade' })
}
