/**
 * @module `bun tests/emulators/max/main.ts` (npm run emulator:max): runs the MAX Bot API emulator as its own
 * process, prints one JSON line on stdout — `{"url","control"}` — and serves until SIGTERM/SIGINT.
 * Options: `--port`, `--host`, `--rate` (Bot API requests per second per token, default 30; `off` disables),
 * `--poll-rate` (GET /updates per second per token, default 2; `off`), `--not-ready` (sends answering
 * attachment.not.ready per fresh upload, default 1), `--webhook-first-retry-ms`, `--webhook-unsubscribe-ms`
 * (or env MAX_EMULATOR_<NAME>, e.g. MAX_EMULATOR_PORT).
 */
import { startMaxEmulator } from './index.ts'

function option(name: string): string | undefined {
  const flag = `--${name}`
  const i = process.argv.indexOf(flag)
  if (i !== -1) return process.argv[i + 1]
  const inline = process.argv.find((a) => a.startsWith(`${flag}=`))
  if (inline) return inline.slice(flag.length + 1)
  return process.env[`MAX_EMULATOR_${name.toUpperCase().replaceAll('-', '_')}`]
}

function num(name: string): number | undefined {
  const raw = option(name)
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} must be a non-negative number, got ${raw}`)
    process.exit(2)
  }
  return n
}

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

let stopping = false
async function shutdown(): Promise<void> {
  if (stopping) return
  stopping = true
  await emulator.close()
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown())
process.on('SIGINT', () => void shutdown())
