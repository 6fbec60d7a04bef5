/**
 * @module Webhook delivery (reference §4.2): each update is POSTed alone as one `Update` JSON object to every
 * subscription of the bot that wants its type, with `X-Max-Bot-Api-Secret: <secret>` when a secret was set.
 * Only HTTP 200 counts as delivered; anything else (or no answer within 30 s) is a failure, retried up to 10
 * times at 60 s, 150 s, 375 s, … (×2.5). If no 200 arrives within 8 h of the first failure, the subscription is
 * removed, after which long polling works again (schema `DELETE /subscriptions`). First attempts go out one at a
 * time in update order; retries run beside them, so a retried update arrives after newer ones — the reference
 * says nothing about order, and says the same event can arrive twice ("deduplicate").
 */
import { stringify } from './json.ts'
import type { Bot, Subscription } from './types.ts'
import type { World } from './world.ts'

export const SECRET_HEADER = 'X-Max-Bot-Api-Secret'

export function deliver(world: World, bot: Bot, sub: Subscription, update: Record<string, unknown>): void {
  const type = String(update.update_type)
  if (sub.updateTypes && sub.updateTypes.length > 0 && !sub.updateTypes.includes(type)) return
  const body = stringify(update)
  const twice = world.faults.duplicateDeliveries > 0
  if (twice) world.faults.duplicateDeliveries--
  sub.chain = sub.chain.then(async () => {
    const ok = await attempt(world, bot, sub, body)
    if (twice && ok) {
      world.stats.add('webhook_duplicates_sent')
      await attempt(world, bot, sub, body)
    }
    if (!ok) retryLater(world, bot, sub, body, 1)
  })
}

function subscribed(world: World, bot: Bot, sub: Subscription): boolean {
  return !world.closed && bot.subscriptions.includes(sub)
}

async function attempt(world: World, bot: Bot, sub: Subscription, body: string): Promise<boolean> {
  if (!subscribed(world, bot, sub)) return true
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (sub.secret !== null) headers[SECRET_HEADER] = sub.secret
  let ok = false
  try {
    const res = await fetch(sub.url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(world.settings.webhook.timeoutMs),
    })
    await res.arrayBuffer()
    ok = res.status === 200
  } catch {
    ok = false
  }
  if (ok) {
    world.stats.add('webhook_deliveries')
    sub.failingSince = null
    if (sub.unsubscribeTimer) clearTimeout(sub.unsubscribeTimer)
    sub.unsubscribeTimer = null
    return true
  }
  world.stats.add('webhook_failures')
  if (sub.failingSince === null && subscribed(world, bot, sub)) {
    sub.failingSince = Date.now()
    sub.unsubscribeTimer = setTimeout(() => {
      sub.unsubscribeTimer = null
      if (sub.failingSince === null || !subscribed(world, bot, sub)) return
      removeSubscription(world, bot, sub)
      world.stats.add('webhook_unsubscribed')
    }, world.settings.webhook.unsubscribeAfterMs)
  }
  return false
}

function retryLater(world: World, bot: Bot, sub: Subscription, body: string, n: number): void {
  if (!subscribed(world, bot, sub)) return
  const policy = world.settings.webhook
  if (n > policy.maxRetries) {
    world.stats.add('webhook_dropped')
    return
  }
  const delay = policy.firstRetryMs * policy.retryFactor ** (n - 1)
  const timer = setTimeout(async () => {
    sub.timers.delete(timer)
    if (!subscribed(world, bot, sub)) return
    world.stats.add('webhook_retries')
    if (!(await attempt(world, bot, sub, body))) retryLater(world, bot, sub, body, n + 1)
  }, delay)
  sub.timers.add(timer)
}

/** Removes a subscription and forgets its pending retries (counted as dropped). */
export function removeSubscription(world: World, bot: Bot, sub: Subscription): void {
  bot.subscriptions = bot.subscriptions.filter((s) => s !== sub)
  if (sub.unsubscribeTimer) clearTimeout(sub.unsubscribeTimer)
  sub.unsubscribeTimer = null
  for (const timer of sub.timers) {
    clearTimeout(timer)
    world.stats.add('webhook_dropped')
  }
  sub.timers.clear()
}
