/**
 * @module The Bot API front door (reference §2): every call needs `Authorization: <token>` as is — no `Bearer`, and
 * `?access_token=` is no longer supported (§2.2) — else 401 `verify.token`. Then, in this order: an injected 5xx,
 * the 429 budget (per token, §2.4), an injected `success:false` (mutating calls only, §2.5), the endpoint.
 */

import { handleChats, handleMe } from './chats-api.ts'
import { invalidToken, json, MaxApiError, methodNotAllowed, notFound, tooManyRequests } from './json.ts'
import { handleAnswers, handleMessage, handleMessages, handleVideo } from './messages-api.ts'
import { handleSubscriptions, handleUpdates, handleUploads } from './subscriptions-api.ts'
import type { Bot } from './types.ts'
import type { World } from './world.ts'

/** The documented path patterns, so stats count endpoints rather than ids. */
function endpointOf(path: string): string {
  if (/^\/chats\/-?\d+\/actions$/.test(path)) return '/chats/{chatId}/actions'
  if (/^\/chats\/[^/]+$/.test(path)) return '/chats/{chatId}'
  if (/^\/messages\/[^/]+$/.test(path)) return '/messages/{messageId}'
  if (/^\/videos\/[^/]+$/.test(path)) return '/videos/{videoToken}'
  if (
    [
      '/me',
      '/me/commands',
      '/chats',
      '/messages',
      '/subscriptions',
      '/updates',
      '/uploads',
      '/answers',
    ].includes(path)
  ) {
    return path
  }
  return '(unknown)'
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export async function handleBotApi(world: World, req: Request, url: URL): Promise<Response> {
  world.stats.request(req.method, endpointOf(url.pathname))
  const faults = world.faults
  if (faults.serverErrors.left > 0) {
    faults.serverErrors.left--
    world.stats.add('server_errors')
    return json(faults.serverErrors.status, { code: 'internal.error', message: 'Internal server error' })
  }
  const token = req.headers.get('authorization')
  const bot = token === null ? undefined : world.bots.get(token.trim())
  if (!bot || bot.revoked) {
    world.stats.add('unauthorized')
    return invalidToken().response()
  }
  if (faults.rateLimitStorm > 0 || !world.limiter.allow(bot.token)) {
    if (faults.rateLimitStorm > 0) faults.rateLimitStorm--
    world.stats.add('rate_limited')
    return tooManyRequests().response()
  }
  if (MUTATING.has(req.method) && faults.failNext.length > 0) {
    world.stats.add('success_false')
    return json(200, { success: false, message: faults.failNext.shift() })
  }
  try {
    return await route(world, bot, req, url)
  } catch (e) {
    if (e instanceof MaxApiError) return e.response()
    throw e
  }
}

function route(world: World, bot: Bot, req: Request, url: URL): Promise<Response> | Response {
  const path = url.pathname
  const m = req.method
  if (path === '/me' || path === '/me/commands') return handleMe(world, bot, req, path)
  if (path === '/chats' || path.startsWith('/chats/')) return handleChats(world, bot, req, path)
  if (path === '/messages') return handleMessages(world, bot, req, url)
  if (path.startsWith('/messages/')) {
    if (m !== 'GET') throw methodNotAllowed(`${m} is not allowed here`)
    return handleMessage(world, bot, decodeURIComponent(path.slice('/messages/'.length)))
  }
  if (path.startsWith('/videos/')) {
    if (m !== 'GET') throw methodNotAllowed(`${m} is not allowed here`)
    return handleVideo(world, decodeURIComponent(path.slice('/videos/'.length)))
  }
  if (path === '/answers') {
    if (m !== 'POST') throw methodNotAllowed(`${m} is not allowed here`)
    return handleAnswers(world, bot, req, url)
  }
  if (path === '/subscriptions') return handleSubscriptions(world, bot, req, url)
  if (path === '/updates') {
    if (m !== 'GET') throw methodNotAllowed(`${m} is not allowed here`)
    return handleUpdates(world, bot, req, url)
  }
  if (path === '/uploads') {
    if (m !== 'POST') throw methodNotAllowed(`${m} is not allowed here`)
    return handleUploads(world, bot, url)
  }
  throw notFound(`Path ${path} not found`)
}
