/**
 * @module `bun tests/emulators/max/main.ts` (npm run emulator:max): runs the MAX Bot API emulator as its own
 * process, prints one JSON line on stdout — `{"url","control"}` — and serves until SIGTERM/SIGINT.
 * Options: `--port`, `--host`, `--rate` (Bot API requests per second per token, default 30; `off` disables),
 * `--poll-rate` (GET /updates per second per token, default 2; `off`), `--not-ready` (sends answering
 * attachment.not.ready per fresh upload, default 1), `--webhook-first-retry-ms`, `--webhook-unsubscribe-ms`
 * (or env MAX_EMULATOR_<NAME>, e.g. MAX_EMULATOR_PORT).
 */
import { processOptions, serveUntilSignal } from '../process-options.ts'
import { startMaxEmulator } from './index.ts'

const { option, num: anyNumber } = processOptions('MAX_EMULATOR')
const num = (name: string) => anyNumber(name, { min: 0 })

/** A rate: a number, `off` (no limit) or absent (the documented default). */
function rate(name: string): number | null | undefined {
  return option(name) === 'off' ? null : num(name)
}

const firstRetryMs = num('webhook-first-retry-ms')
const unsubscribeAfterMs = num('webhook-unsubscribe-ms')
const emulator = await startMaxEmulator({
  host: option('host'),
  port: num('port'),
  rateLimitPerSecond: rate('rate'),
  pollRateLimitPerSecond: rate('poll-rate'),
  notReadyAttempts: num('not-ready'),
  webhook: {
    ...(firstRetryMs === undefined ? {} : { firstRetryMs }),
    ...(unsubscribeAfterMs === undefined ? {} : { unsubscribeAfterMs }),
  },
})
process.stdout.write(`${JSON.stringify(emulator.info())}\n`)

serveUntilSignal(() => emulator.close())
