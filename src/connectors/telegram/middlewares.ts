/**
 * @module The network middlewares every Telegram client runs (production over the socket, tests over the
 * stub, which runs this same chain around its responders — `tests/support/telegram-stub.ts`). mtcute's
 * defaults are tuned for interactive bots, not a relay with its own queue (reference §7.2):
 * - flood waits up to 10 s are slept inside the call; longer ones reach the core as `FloodWaitError` (the
 *   account shows `flood_wait` and its queue waits). No per-method memory of past waits: Telegram states the
 *   remaining time on every refusal, and the core already waits it out.
 * - internal server errors are retried a few times, not forever (the default), so the core's backoff and
 *   health see a Telegram outage. `RANDOM_ID_DUPLICATE` is a 500 but an answer, not an outage: a resend of a
 *   message that did go out (`send.ts`); `AUTH_RESTART` restarts a login.
 */
import { networkMiddlewares, type RpcCallMiddleware } from '@mtcute/core'

export function telegramMiddlewares(): RpcCallMiddleware[] {
  return networkMiddlewares.basic({
    floodWaiter: { maxWait: 10_000, store: false },
    internalErrors: { maxRetries: 3, exceptErrors: ['RANDOM_ID_DUPLICATE', 'AUTH_RESTART'] },
  })
}
