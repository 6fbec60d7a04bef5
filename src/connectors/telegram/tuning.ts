/**
 * @module The Telegram client's timing: how often it checks its session and updates, when an update loop
 * counts as stuck, the largest file it sends, and the clock its checks run on (a `SimulatedClock` in tests).
 */
import type { TelegramClient } from '@mtcute/core/client.js'

/** Timers the health check runs on (xstate's `SimulatedClock` fits, for tests). */
export interface TelegramClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: TelegramClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms)
    timer.unref?.()
    return timer
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

export interface TelegramClientTuning {
  /** How often a connected account checks that its session lives and its updates flow. */
  healthIntervalMs: number
  /** Telegram ahead of the client for this long while connected: the update loop is stuck. */
  stuckAfterMs: number
  /** Largest file sent, in bytes. */
  maxFileSize: number
}

export const DEFAULT_TUNING: TelegramClientTuning = {
  healthIntervalMs: 30_000,
  stuckAfterMs: 3 * 60_000,
  maxFileSize: 2000 * 1024 * 1024,
}

/**
 * The pts the client's updates manager has processed. Not public in mtcute 0.27 (the manager is
 * `BaseTelegramClient.updates`); undefined if that ever changes, which only turns the stuck check off.
 */
export function localPts(tg: TelegramClient): number | undefined {
  const base = (tg as unknown as { _client?: { updates?: { pts?: unknown } } })._client
  const pts = base?.updates?.pts
  return typeof pts === 'number' ? pts : undefined
}
