/**
 * @module The relay benchmark's check that idle accounts stay connected: over a quiet window (nothing sent)
 * the sandbox's live sockets are sampled every second and its connection counters compared before and after.
 * A steady process opens no socket in the window; a flapping one shows reconnects (sockets opened), closes
 * by code (1000: Olchat closed it; 1006: lost or unanswered pings) and duplicate-session kills.
 */

/** The part of the sandbox's `stats()` read here. */
export interface ConnectionCounters {
  liveConnections: number
  connectionsOpened: number
  authKeyDuplicated: number
  sessionsRevoked: number
  liveClosed: Record<string, number>
}

export interface QuietFigures {
  seconds: number
  liveMin: number
  liveEnd: number
  /** Sockets opened in the window: each one a reconnect, since every account was connected before. */
  reconnects: number
  duplicateKills: number
  sessionsRevoked: number
  /** Live sockets closed by the client or the network in the window, by close code. */
  closedByCode: Record<string, number>
  /** Accounts the database shows online at the end. */
  onlineInDb: number
}

export async function watchQuiet(
  read: () => ConnectionCounters,
  onlineInDb: () => Promise<number>,
  seconds: number,
): Promise<QuietFigures> {
  const before = read()
  let liveMin = before.liveConnections
  for (let s = 0; s < seconds; s++) {
    await Bun.sleep(1_000)
    liveMin = Math.min(liveMin, read().liveConnections)
  }
  const after = read()
  const closedByCode: Record<string, number> = {}
  for (const [code, n] of Object.entries(after.liveClosed)) {
    const delta = n - (before.liveClosed[code] ?? 0)
    if (delta > 0) closedByCode[code] = delta
  }
  return {
    seconds,
    liveMin,
    liveEnd: after.liveConnections,
    reconnects: after.connectionsOpened - before.connectionsOpened,
    duplicateKills: after.authKeyDuplicated - before.authKeyDuplicated,
    sessionsRevoked: after.sessionsRevoked - before.sessionsRevoked,
    closedByCode,
    onlineInDb: await onlineInDb(),
  }
}
