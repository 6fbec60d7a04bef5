/**
 * @module How the bot receives updates and gets upload slots: `GET/POST/DELETE /subscriptions` (reference §4.2),
 * `GET /updates` long polling (§4.1) and `POST /uploads?type=` (§5.3 step 1).
 */
import * as v from 'valibot'
import { createUpload } from './files.ts'
import { intQuery, listQuery, readBody } from './http.ts'
import { badPayload, json, methodNotAllowed, tooManyRequests } from './json.ts'
import type { Bot, Subscription } from './types.ts'
import { poll, wake } from './updates.ts'
import { removeSubscription } from './webhook.ts'
import type { World } from './world.ts'

/** `SubscriptionRequestBody` (§4.2); `version` is still sent by the Go client (§2.3) and ignored. */
const SubscriptionRequest = v.object({
  url: v.pipe(v.string(), v.url()),
  update_types: v.optional(v.nullable(v.array(v.pipe(v.string(), v.minLength(1))))),
  secret: v.optional(
    v.nullable(
      v.pipe(
        v.string(),
        v.regex(/^[A-Za-z0-9_-]{5,256}$/, 'secret must be 5-256 characters of [A-Za-z0-9_-]'),
      ),
    ),
  ),
  version: v.optional(v.string()),
})

export async function handleSubscriptions(world: World, bot: Bot, req: Request, url: URL): Promise<Response> {
  if (req.method === 'GET') {
    return json(200, {
      subscriptions: bot.subscriptions.map((s) => ({
        url: s.url,
        time: s.time,
        update_types: s.updateTypes,
      })),
    })
  }
  if (req.method === 'POST') {
    const body = await readBody(req, SubscriptionRequest)
    const target = new URL(body.url)
    if (target.protocol !== 'https:' && target.protocol !== 'http:') throw badPayload('url must be http(s)')
    // §4.2: since 25 May 2026 only https on 443 (no port in the URL); enforced when requireHttpsWebhooks is on.
    if (world.settings.requireHttpsWebhooks && (target.protocol !== 'https:' || target.port !== '')) {
      throw badPayload('The webhook URL must be https on port 443')
    }
    const existing = bot.subscriptions.find((s) => s.url === body.url)
    if (existing) {
      existing.updateTypes = body.update_types ?? null
      existing.secret = body.secret ?? null
      existing.time = Date.now()
    } else {
      const sub: Subscription = {
        url: body.url,
        time: Date.now(),
        updateTypes: body.update_types ?? null,
        secret: body.secret ?? null,
        failingSince: null,
        unsubscribeTimer: null,
        chain: Promise.resolve(),
        timers: new Set(),
      }
      bot.subscriptions.push(sub)
    }
    // Long polls in flight end now: the modes are exclusive (§4.1).
    wake(bot)
    return json(200, { success: true })
  }
  if (req.method === 'DELETE') {
    const target = url.searchParams.get('url')
    if (!target) throw badPayload('url is required')
    const sub = bot.subscriptions.find((s) => s.url === target)
    if (sub) removeSubscription(world, bot, sub)
    return json(200, { success: true })
  }
  throw methodNotAllowed(`${req.method} is not allowed here`)
}

export async function handleUpdates(world: World, bot: Bot, req: Request, url: URL): Promise<Response> {
  // §4.1: "while a subscription exists, long polling doesn't work" — the schema lists 405 for /updates.
  if (bot.subscriptions.length > 0)
    throw methodNotAllowed('Long polling is not available while a webhook subscription exists')
  if (!world.pollLimiter.allow(bot.token)) {
    world.stats.add('rate_limited')
    throw tooManyRequests()
  }
  const limit = intQuery(url, 'limit', { min: 1, max: 1000 }) ?? 100
  const timeoutSeconds = intQuery(url, 'timeout', { min: 0, max: 90 }) ?? 30
  const rawMarker = url.searchParams.get('marker')
  const marker =
    rawMarker === null || rawMarker === '' || rawMarker === 'null' ? null : intQuery(url, 'marker')!
  const types = listQuery(url, 'types')
  return json(200, await poll(world, bot, { marker, limit, timeoutSeconds, types }, req.signal))
}

export function handleUploads(world: World, bot: Bot, url: URL): Response {
  const type = url.searchParams.get('type')
  // §5.3: `type=photo` is no longer accepted.
  if (type === 'photo') throw badPayload('type=photo is no longer supported, use type=image')
  if (type !== 'image' && type !== 'video' && type !== 'audio' && type !== 'file') {
    throw badPayload('type must be one of image, video, audio, file')
  }
  return json(200, createUpload(world, bot, type))
}
