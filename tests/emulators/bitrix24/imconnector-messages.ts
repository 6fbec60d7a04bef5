/**
 * @module Messenger → portal methods: `imconnector.send.messages` (§5.8), `update.messages` (§5.9),
 * `delete.messages` (§5.10), `send.status.delivery` (§5.11), `send.status.reading` (§5.12), `chat.name.set`
 * (§5.13). Keys inside MESSAGES are lower-cased recursively (§4.2); results are per item (§5.8).
 */
import type { CallContext, MethodTable } from './call.ts'
import {
  argumentNull,
  isRecord,
  listValues,
  lowerKeysDeep,
  phpEmpty,
  phpInt,
  phpString,
  RestError,
  requireArgs,
  upperKeys,
} from './errors.ts'
import { downloadFile, eventFileEntry, storeDiskFile } from './files.ts'
import { addMessage, ensureSession, findOrCreateChat, userCode } from './openlines.ts'
import { emitMessageAdd } from './outgoing.ts'
import { isStatusOk } from './state.ts'
import type { ConnectorRecord, ExternalUser } from './types.ts'

const NOT_ALL_DATA = 'Not all required data has been provided'

interface Envelope {
  connector: ConnectorRecord
  line: number
  items: Record<string, unknown>[]
}

/** Common checks of the input methods (§5.8 whole-call errors). */
function envelope(
  ctx: CallContext,
  raw: Record<string, unknown>,
  checkStatus: boolean,
  requireStructure = false,
): Envelope {
  const p = upperKeys(raw)
  requireArgs(p, ['CONNECTOR', 'LINE', 'MESSAGES'])
  const messages = lowerKeysDeep(p.MESSAGES)
  if (!Array.isArray(messages) && !isRecord(messages)) {
    throw new RestError('ERROR_ARGUMENT', "Argument 'MESSAGES' must be of type array", 400)
  }
  const items = listValues(messages)
  for (const item of items) {
    if (!isRecord(item)) {
      throw new RestError(
        'ERROR_ARGUMENT',
        'The MESSAGES parameter must be an array of messages (arrays)',
        400,
      )
    }
    // §5.8: send.messages wants user, message and chat in every element (isset).
    const missing = [item.user, item.message, item.chat].some((part) => part === undefined || part === null)
    if (requireStructure && missing) {
      throw new RestError(
        'ERROR_ARGUMENT',
        'The incorrect structure of a message inside MESSAGES parameter.',
        400,
      )
    }
  }
  const name = phpString(p.CONNECTOR).toLowerCase()
  const line = phpInt(p.LINE)
  const connector = ctx.portal.connectors.get(name)
  if (!connector) {
    throw new RestError('IMCONNECTOR_NO_CORRECT_PROVIDER', 'Could not find the correct provider', 400)
  }
  const lineRecord = ctx.portal.lines.get(line)
  // §5.1/§5.8: input needs isStatus() and an existing active line, else 400 NOT_ACTIVE_LINE.
  if (checkStatus && (!isStatusOk(ctx.portal.findStatus(name, line)) || !lineRecord?.active)) {
    throw new RestError('NOT_ACTIVE_LINE', 'The line with this ID is inactive or does not exist', 400)
  }
  return { connector, line, items: items as Record<string, unknown>[] }
}

async function hashOf(value: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(value))
  return new Bun.CryptoHasher('md5').update(bytes).digest('hex')
}

/** §5.8: an external user is created on first sight and updated when its data changes (MD5). */
async function upsertUser(
  ctx: CallContext,
  connector: string,
  user: Record<string, unknown>,
): Promise<ExternalUser> {
  const externalId = phpString(user.id)
  const key = `${connector}|${externalId}`
  const hash = await hashOf(user)
  let name = phpString(user.name)
  let lastName = phpString(user.last_name)
  // §5.8: a lone two-word `name` is split into first and last name.
  const words = name.trim().split(/\s+/)
  if (!lastName && words.length === 2) [name, lastName] = words as [string, string]
  const existing = ctx.portal.externalUsers.get(key)
  if (existing && existing.hash === hash) return existing
  const picture = isRecord(user.picture) ? phpString(user.picture.url) : ''
  const previousPicture = existing?.picture?.url ?? null
  const record: ExternalUser = existing ?? {
    key,
    b24Id: ctx.portal.next('user'),
    connector,
    externalId,
    name,
    lastName,
    data: user,
    hash,
    updates: 0,
    picture: null,
  }
  if (existing) {
    record.updates++
    record.name = name
    record.lastName = lastName
    record.data = user
    record.hash = hash
  }
  // Pitfall 5: the avatar is downloaded by the portal like any file.
  if (picture && picture !== previousPicture) {
    record.picture = await downloadFile(ctx.emu, ctx.portal, { url: picture, purpose: 'avatar' })
  }
  ctx.portal.externalUsers.set(key, record)
  return record
}

async function receiveItem(ctx: CallContext, env: Envelope, item: Record<string, unknown>) {
  const user = isRecord(item.user) ? item.user : {}
  const message = isRecord(item.message) ? { ...item.message } : {}
  const chat = isRecord(item.chat) ? { ...item.chat } : {}
  const failed = (text: string) => ({ SUCCESS: false, ERRORS: [text] })
  if (phpEmpty(item.user) || phpEmpty(item.chat) || phpEmpty(chat.id)) return failed(NOT_ALL_DATA)
  if (phpEmpty(user.id)) return failed('Messenger user ID not obtained')
  const extra: Record<string, string> = isRecord(item.extra) ? (item.extra as Record<string, string>) : {}
  const external = await upsertUser(ctx, env.connector.id, user)
  // §5.8: `message.user_id` of an employee: the message is stored as that employee's (the chat stays the
  // external user's). An unknown id is ignored here (the emulator's simplification).
  const employeeId = phpInt(message.user_id)
  const byEmployee = employeeId > 0 && ctx.portal.users.has(employeeId)
  // §5.8: the portal downloads every file; failures are dropped silently. The files go to the chat's disk;
  // an employee's message shows them as the portal's own links (what its echo carries, §6.4).
  const kept: Record<string, unknown>[] = []
  const onDisk: Record<string, string>[] = []
  for (const f of listValues(message.files)) {
    if (!isRecord(f)) continue
    const headers = listValues(f.headers).filter(isRecord) as { name: string; value: string }[]
    let body: { bytes: Uint8Array; name: string; mime: string } | undefined
    const file = await downloadFile(ctx.emu, ctx.portal, {
      url: phpString(f.url),
      name: phpString(f.name) || undefined,
      headers,
      purpose: 'message',
      onBytes: (bytes, record) => {
        body = { bytes, name: record.name ?? 'file', mime: record.mime ?? 'application/octet-stream' }
      },
    })
    if (file.status !== 'downloaded') continue
    kept.push(f)
    if (byEmployee && body) {
      const stored = await storeDiskFile(ctx.portal, { ...body, width: null, height: null })
      onDisk.push(eventFileEntry(ctx.portal, stored))
    }
  }
  const text = phpString(message.text)
  if (text.trim() === '' && kept.length === 0) return failed(NOT_ALL_DATA)
  if (message.disable_crm === 'Y') {
    extra.disable_tracker = 'Y'
    delete message.disable_crm
  }
  if (user.skip_phone_validate === 'Y') extra.skip_phone_validate = 'Y'
  if (env.connector.flags.CHAT_GROUP) extra.disable_tracker = 'Y' // §5.2: group mode skips the CRM tracker
  if (!phpEmpty(chat.url)) {
    chat.description = `Link to the original post: ${phpString(chat.url)}`
    delete chat.url
  }
  const title = phpString(chat.name) || `${external.name} ${external.lastName}`.trim()
  const ol = findOrCreateChat(ctx.portal, env.connector, env.line, phpString(chat.id), external.b24Id, title)
  if (chat.description) ol.description = phpString(chat.description)
  const session = ensureSession(ctx.emu, ctx.portal, ol, ctx.userId)
  const vote = ol.waitingVote && /^[01](\s|$)/.test(text) ? (text.startsWith('1') ? 'like' : 'dislike') : null
  if (vote) ol.waitingVote = false // §5.8: "1"/"0" during a rating wait is a vote
  const stored = addMessage(ctx.portal, ol, {
    author: byEmployee ? 'employee' : 'client',
    authorId: byEmployee ? employeeId : external.b24Id,
    text,
    files: byEmployee ? onDisk : kept,
    // §5.8: message.id is kept as CONNECTOR_MID for later update/delete.
    connectorMid: phpEmpty(message.id) ? null : [phpString(message.id)],
    date: phpInt(message.date) || Math.floor(Date.now() / 1000),
    vote,
  })
  // §6.4 "Echo" — INFERRED from the source, not observed (reference §11.9): the message of an employee is
  // not marked to skip the connector, so the portal sends it to the connector like any operator message, with
  // the signature, the files as portal links and no CONNECTOR_MID (it is set after the event is emitted).
  if (byEmployee && ctx.emu.settings.echoEmployeeMessages) {
    void emitMessageAdd(ctx.emu, ctx.portal, ol, stored, employeeId)
  }
  const out: Record<string, unknown> = {
    user: String(external.b24Id),
    // §5.8: `date` becomes a DateTime object and serialises as {}.
    message: { ...message, date: {}, files: kept },
    chat,
  }
  if (Object.keys(extra).length > 0) out.extra = extra
  out.SUCCESS = true
  out.session = { ID: String(session.id), CHAT_ID: String(ol.id) }
  return out
}

async function sendMessages(ctx: CallContext, raw: Record<string, unknown>): Promise<unknown> {
  const env = envelope(ctx, raw, true, true)
  const results: unknown[] = []
  // Per-chat order is kept by processing items one after another (§5.8 per-chat lock).
  for (const item of env.items) results.push(await receiveItem(ctx, env, item))
  return { SUCCESS: true, DATA: { RESULT: results } }
}

function chatOfItem(ctx: CallContext, env: Envelope, item: Record<string, unknown>) {
  const user = isRecord(item.user) ? item.user : {}
  const chat = isRecord(item.chat) ? item.chat : {}
  const external = ctx.portal.externalUsers.get(`${env.connector.id}|${phpString(user.id)}`)
  const part = env.connector.flags.CHAT_GROUP ? 0 : (external?.b24Id ?? -1)
  const code = userCode(env.connector.id, env.line, phpString(chat.id), part)
  return { external, ol: ctx.portal.chats.get(code) }
}

async function updateMessages(ctx: CallContext, raw: Record<string, unknown>): Promise<unknown> {
  const env = envelope(ctx, raw, true)
  const results = env.items.map((item) => {
    const message = isRecord(item.message) ? item.message : {}
    const { external, ol } = chatOfItem(ctx, env, item)
    const mid = phpString(message.id)
    // §5.9: every IM message of the chat whose CONNECTOR_MID matches gets the new text (§11.8: no match is
    // still reported as success).
    for (const m of ol?.messages ?? []) {
      if (m.connectorMid?.includes(mid) && message.text !== undefined) {
        m.text = phpString(message.text)
        m.edited = true
      }
    }
    return {
      user: external ? String(external.b24Id) : phpString(isRecord(item.user) ? item.user.id : ''),
      message,
      chat: item.chat ?? {},
      SUCCESS: true,
    }
  })
  return { SUCCESS: true, DATA: { RESULT: results } }
}

async function deleteMessages(ctx: CallContext, raw: Record<string, unknown>): Promise<unknown> {
  const env = envelope(ctx, raw, true)
  const results = env.items.map((item) => {
    const message = isRecord(item.message) ? item.message : {}
    const { external, ol } = chatOfItem(ctx, env, item)
    const mid = phpString(message.id)
    for (const m of ol?.messages ?? []) if (m.connectorMid?.includes(mid)) m.deleted = true
    return {
      user: external ? String(external.b24Id) : phpString(isRecord(item.user) ? item.user.id : ''),
      message: { id: message.id },
      chat: { id: isRecord(item.chat) ? item.chat.id : undefined },
      SUCCESS: true,
    }
  })
  return { SUCCESS: true, DATA: { RESULT: results } }
}

function statusDelivery(ctx: CallContext, raw: Record<string, unknown>): unknown {
  // Source: delivery/reading statuses do not go through the isStatus() check of incoming messages.
  const env = envelope(ctx, raw, false)
  for (const item of env.items) {
    const im = isRecord(item.im) ? item.im : {}
    const message = isRecord(item.message) ? item.message : {}
    const ol = ctx.portal.chatsById.get(phpInt(im.chat_id))
    if (!ol || ol.connector !== env.connector.id) continue
    const target = ol.messages.find((m) => m.id === phpInt(im.message_id))
    if (!target) continue
    // §5.11: stores message.id (array of external ids) as CONNECTOR_MID, marks read, clears "sending".
    const mids = Array.isArray(message.id) || isRecord(message.id) ? listValues(message.id) : [message.id]
    const clean = mids.filter((v) => !phpEmpty(v)).map(phpString)
    if (clean.length > 0) target.connectorMid = clean
    target.read = true
    target.sending = false
  }
  return { SUCCESS: true, DATA: [] }
}

function statusReading(ctx: CallContext, raw: Record<string, unknown>): unknown {
  envelope(ctx, raw, false) // §5.12: the handler is a stub
  return { SUCCESS: true, DATA: [] }
}

function chatNameSet(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  // §5.13 (source): these use empty(), not isset().
  for (const name of ['CONNECTOR', 'LINE', 'CHAT_ID', 'NAME']) if (phpEmpty(p[name])) throw argumentNull(name)
  const name = phpString(p.CONNECTOR).toLowerCase()
  const line = phpInt(p.LINE)
  const connector = ctx.portal.connectors.get(name)
  if (phpEmpty(p.USER_ID) && !connector?.flags.CHAT_GROUP) throw argumentNull('USER_ID')
  if (!isStatusOk(ctx.portal.findStatus(name, line))) {
    throw new RestError('NOT_ACTIVE_LINE', 'The line with this ID is inactive or does not exist', 400)
  }
  const external = ctx.portal.externalUsers.get(`${name}|${phpString(p.USER_ID)}`)
  const part = connector?.flags.CHAT_GROUP ? 0 : (external?.b24Id ?? -1)
  const ol = ctx.portal.chats.get(userCode(name, line, phpString(p.CHAT_ID), part))
  // §5.13: renames the chat of an existing session.
  if (!ol?.session) throw new RestError('CHAT_RENAMING_FAILED', 'Failed to rename the chat', 400)
  ol.title = phpString(p.NAME)
  return { SUCCESS: true, DATA: { RESULT: {} } }
}

const scope = ['imopenlines', 'imconnector']

export const messageMethods: MethodTable = {
  'imconnector.send.messages': { fn: sendMessages, scope, appOnly: 'wrong-auth-type' },
  'imconnector.update.messages': { fn: updateMessages, scope, appOnly: 'wrong-auth-type' },
  'imconnector.delete.messages': { fn: deleteMessages, scope, appOnly: 'wrong-auth-type' },
  'imconnector.send.status.delivery': { fn: statusDelivery, scope, appOnly: 'wrong-auth-type' },
  'imconnector.send.status.reading': { fn: statusReading, scope, appOnly: 'wrong-auth-type' },
  'imconnector.chat.name.set': { fn: chatNameSet, scope, appOnly: 'wrong-auth-type' },
}
