/**
 * @module Updates: a per-account log with a monotonically increasing `seq` (Telegram's pts, simplified to one
 * counter per account), pushed to every live connection of the account and replayed from `after` on
 * (re)connect or through `GET /v1/updates`. A session has at most one live connection: a second one at the
 * same time kills both with AUTH_KEY_DUPLICATED and revokes the session, as Telegram does.
 */
import type { ServerWebSocket, WebSocketHandler } from 'bun'
import { ApiError } from './errors.ts'
import type { Account, ConnData, Session } from './types.ts'
import { closeCode, type World } from './world.ts'

export type Update = Record<string, unknown> & { type: string }

export function publish(world: World, account: Account, update: Update): number {
  const seq = ++account.seq
  account.log ??= { first: seq, entries: [] }
  const log = account.log
  log.entries.push(JSON.stringify({ seq, date: Date.now(), ...update }))
  // Trim in chunks so appending stays O(1) amortised.
  if (log.entries.length > world.maxUpdates * 1.1) {
    const drop = log.entries.length - world.maxUpdates
    log.entries.splice(0, drop)
    log.first += drop
  }
  for (const session of account.sessions ?? []) {
    if (session.live) pump(world, session.live, account)
  }
  return seq
}

/** Bytes a connection may have queued before the rest waits for `drain` (Bun drops sends past its limit). */
const HIGH_WATER = 1024 * 1024

/**
 * Sends the connection what it has not had yet, from the log, while its socket keeps up; `drain` calls it
 * again. One path for catch-up and live pushes keeps every connection in seq order without gaps.
 */
function pump(world: World, ws: ServerWebSocket<ConnData>, account: Account): void {
  while (ws.data.sent < account.seq) {
    if (ws.getBufferedAmount() > HIGH_WATER) return
    let texts: string[]
    try {
      texts = difference(account, ws.data.sent, 256)
    } catch (e) {
      // A connection this far behind cannot be caught up; the client restarts from the current seq.
      const error = e instanceof ApiError ? e.error : 'INTERNAL'
      if (ws.data.session?.live === ws) ws.data.session.live = undefined
      ws.close(4400, error)
      return
    }
    let sent = 0
    for (const text of texts) {
      if (ws.getBufferedAmount() > HIGH_WATER) break
      ws.send(text)
      sent++
    }
    ws.data.sent += sent
    world.counters.updatesDelivered += sent
    world.accountCounters(account).updatesDelivered += sent
  }
  if (!ws.data.ready) {
    ws.data.ready = true
    ws.send(JSON.stringify({ type: 'ready', seq: account.seq }))
  }
}

/** Serialized updates with seq > after (at most `limit`); throws DIFFERENCE_TOO_LONG past the kept log. */
export function difference(account: Account, after: number, limit = Number.MAX_SAFE_INTEGER): string[] {
  const log = account.log
  if (!log || after >= account.seq) return []
  if (after + 1 < log.first) {
    throw new ApiError('DIFFERENCE_TOO_LONG', 400, `Updates before seq ${log.first} are no longer kept`, {
      seq: account.seq,
    })
  }
  const start = after + 1 - log.first
  return log.entries.slice(start, start + limit)
}

export function differenceResponse(world: World, account: Account, after: number, limit: number): Response {
  const texts = difference(account, after, limit)
  world.counters.updatesDelivered += texts.length
  world.accountCounters(account).updatesDelivered += texts.length
  const body = `{"updates":[${texts.join(',')}],"seq":${account.seq}}`
  return new Response(body, { headers: { 'content-type': 'application/json; charset=utf-8' } })
}

export function liveConnections(world: World): number {
  let n = 0
  for (const session of world.sessions.values()) if (session.live) n++
  return n
}

/** Network drop: every live connection of the account is cut without a close frame (client sees 1006). */
export function dropConnections(world: World, account: Account): number {
  let n = 0
  for (const session of account.sessions ?? []) {
    const live = session.live
    if (!live) continue
    session.live = undefined
    live.terminate()
    n++
  }
  world.counters.droppedConnections += n
  return n
}

function duplicated(world: World, session: Session, ws: ServerWebSocket<ConnData>): void {
  const first = session.live!
  session.live = undefined
  world.counters.authKeyDuplicated++
  world.accountCounters(session.account).authKeyDuplicated++
  first.close(4406, 'AUTH_KEY_DUPLICATED')
  ws.close(4406, 'AUTH_KEY_DUPLICATED')
  world.revoke(session, 'AUTH_KEY_DUPLICATED')
}

export function websocketHandler(world: World): WebSocketHandler<ConnData> {
  return {
    open(ws) {
      const { session, refuse } = ws.data
      if (refuse || !session) {
        ws.close(refuse?.code ?? 4401, refuse?.reason ?? 'AUTH_KEY_UNREGISTERED')
        return
      }
      if (session.revoked) {
        // Revoked between the upgrade and now (e.g. the other half of a duplicate pair).
        ws.close(closeCode(session.revoked), session.revoked)
        return
      }
      world.counters.connectionsOpened++
      if (session.live) return duplicated(world, session, ws)
      session.live = ws
      pump(world, ws, session.account)
    },
    drain(ws) {
      const session = ws.data.session
      if (session && session.live === ws) pump(world, ws, session.account)
    },
    message(ws, message) {
      // An application-level ping for clients that want to check the path end to end.
      if (typeof message === 'string' && message.includes('"ping"')) ws.send('{"type":"pong"}')
    },
    close(ws, code) {
      const session = ws.data.session
      if (session && session.live === ws) {
        session.live = undefined
        const closed = world.counters.liveClosed
        closed[code] = (closed[code] ?? 0) + 1
      }
    },
  }
}
