/**
 * @module Where updates go (reference §4): to every webhook subscription while the bot has one, otherwise into the
 * bot's long-polling queue — the two modes are exclusive ("Both methods cannot be used simultaneously", schema
 * info; §4.1). The queue follows `GET /updates`: each update has a position; the answer's `marker` points at the
 * next one, and passing it commits everything before it. Without `marker` the bot gets everything since the last
 * commit (schema v0.0.33; `noMarker: 'latest'` switches to the dev.max.ru reading, §4.1 ⚠). Events older than 24 h
 * are gone (§2.4), and a batch holds at most 100 (§2.4, the May 2026 notice).
 */
import type { Bot, QueuedUpdate } from './types.ts'
import { deliver } from './webhook.ts'
import type { World } from './world.ts'

/** Update types of schema v0.0.33 (reference §4.3); anything else counts as an unknown type. */
export const KNOWN_UPDATE_TYPES = new Set([
  'message_created',
  'message_callback',
  'message_edited',
  'message_removed',
  'bot_added',
  'bot_removed',
  'user_added',
  'user_removed',
  'bot_started',
  'bot_stopped',
  'dialog_cleared',
  'dialog_removed',
  'dialog_muted',
  'dialog_unmuted',
  'chat_title_changed',
  'comment_created',
  'comment_edited',
  'comment_removed',
  'bot_admin_permissions_changed',
])

export const MAX_BATCH = 100

export function emitUpdate(world: World, bot: Bot, update: Record<string, unknown>): void {
  update.timestamp ??= Date.now()
  const type = String(update.update_type)
  world.stats.add('updates_queued')
  world.stats.add(`updates:${type}`)
  if (bot.subscriptions.length > 0) {
    for (const sub of bot.subscriptions) deliver(world, bot, sub, update)
    return
  }
  bot.queue.push({ position: bot.nextPosition++, type, queuedAt: Date.now(), update })
  wake(bot)
}

export function wake(bot: Bot): void {
  const waiters = [...bot.pollWaiters]
  bot.pollWaiters.clear()
  for (const w of waiters) w()
}

export interface PollInput {
  marker: number | null
  limit: number
  timeoutSeconds: number
  types: string[] | null
}

export async function poll(
  world: World,
  bot: Bot,
  input: PollInput,
  signal: AbortSignal,
): Promise<{ updates: Record<string, unknown>[]; marker: number }> {
  if (input.marker !== null) {
    // A marker commits everything before it; one from the future cannot commit what does not exist yet.
    bot.committed = Math.max(bot.committed, Math.min(input.marker, bot.nextPosition))
  }
  const deadline = Date.now() + input.timeoutSeconds * 1000
  for (;;) {
    expire(world, bot)
    const found = scan(world, bot, input)
    const left = deadline - Date.now()
    if (found.updates.length > 0 || left <= 0 || signal.aborted || world.closed || bot.subscriptions.length) {
      world.stats.add('updates_polled', found.updates.length)
      return found
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        bot.pollWaiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, left)
      signal.addEventListener('abort', done)
      bot.pollWaiters.add(done)
    })
  }
}

function expire(world: World, bot: Bot): void {
  const oldest = Date.now() - world.settings.updateTtlMs
  bot.queue = bot.queue.filter((u) => u.position >= bot.committed && u.queuedAt >= oldest)
}

function scan(world: World, bot: Bot, input: PollInput) {
  const wanted = (u: QueuedUpdate) => input.types === null || input.types.includes(u.type)
  const limit = Math.min(input.limit, MAX_BATCH)
  if (input.marker === null && world.settings.noMarker === 'latest') {
    const latest = bot.queue.findLast(wanted)
    return latest
      ? { updates: [latest.update], marker: latest.position + 1 }
      : { updates: [], marker: bot.nextPosition }
  }
  const updates: Record<string, unknown>[] = []
  let marker = bot.committed
  for (const u of bot.queue) {
    if (updates.length >= limit) break
    marker = u.position + 1
    if (wanted(u)) updates.push(u.update)
  }
  return { updates, marker }
}
