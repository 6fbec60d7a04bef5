/**
 * @module `GET /me`, `PATCH /me/commands` (reference §3.1), `GET /chats/{chatId}` (§3.3), `POST /chats/{chatId}/actions`
 * (§6). `GET /chats` (the list) is gone since June 2026 (§3.2) and answers 404 here.
 */
import * as v from 'valibot'
import { readBody } from './http.ts'
import { badPayload, chatDenied, json, methodNotAllowed, notFound } from './json.ts'
import type { Bot, Dialog } from './types.ts'
import { userWithPhotoJson, type World } from './world.ts'

const Commands = v.object({
  commands: v.pipe(
    v.array(
      v.object({
        name: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
        description: v.optional(v.nullable(v.pipe(v.string(), v.minLength(1), v.maxLength(128)))),
      }),
    ),
    v.maxLength(32),
  ),
})

// Schema v0.0.33 enum (§6); dev.max.ru dropped `mark_seen`, which the emulator still accepts as MAX reportedly does.
const Action = v.object({
  action: v.picklist([
    'typing_on',
    'sending_photo',
    'sending_video',
    'sending_audio',
    'sending_file',
    'mark_seen',
  ]),
})

export async function handleMe(world: World, bot: Bot, req: Request, path: string): Promise<Response> {
  if (path === '/me/commands') {
    if (req.method !== 'PATCH') throw methodNotAllowed(`${req.method} is not allowed here`)
    bot.commands = (await readBody(req, Commands)).commands
    return json(200, { commands: bot.commands })
  }
  if (req.method !== 'GET') throw methodNotAllowed(`${req.method} is not allowed here`)
  return json(200, { ...userWithPhotoJson(world, bot.person), commands: bot.commands })
}

/** A dialog of this bot by chat id, or 403 `chat.denied` like MAX for an id it cannot use (§2.5). */
export function botDialog(world: World, bot: Bot, chatId: number): Dialog {
  const dialog = world.dialogs.get(chatId)
  if (!dialog || dialog.bot !== bot) throw chatDenied(`Invalid chatId: ${chatId}`)
  return dialog
}

export function chatJson(world: World, dialog: Dialog): Record<string, unknown> {
  return {
    chat_id: dialog.chatId,
    type: 'dialog',
    status: dialog.status,
    title: null,
    icon: null,
    last_event_time: dialog.lastEventTime,
    participants_count: 2,
    owner_id: null,
    participants: null,
    is_public: false,
    link: null,
    description: null,
    dialog_with_user: userWithPhotoJson(world, dialog.user),
    messages_count: null,
    pinned_message: null,
  }
}

export async function handleChats(world: World, bot: Bot, req: Request, path: string): Promise<Response> {
  if (path === '/chats') throw notFound('GET /chats is not supported')
  const actions = /^\/chats\/(-?\d+)\/actions$/.exec(path)
  if (actions) {
    if (req.method !== 'POST') throw methodNotAllowed(`${req.method} is not allowed here`)
    const dialog = botDialog(world, bot, Number(actions[1]))
    const { action } = await readBody(req, Action)
    dialog.actions.push(action)
    world.stats.add(`actions:${action}`)
    return json(200, { success: true })
  }
  const one = /^\/chats\/([^/]+)$/.exec(path)
  if (!one) throw notFound(`Path ${path} not found`)
  if (req.method !== 'GET') throw methodNotAllowed(`${req.method} is not allowed here`)
  if (!/^-?\d+$/.test(one[1]!)) throw badPayload('chatId must be an integer')
  const dialog = world.dialogs.get(Number(one[1]))
  if (!dialog || dialog.bot !== bot) throw notFound(`Chat ${one[1]} not found`)
  return json(200, chatJson(world, dialog))
}
