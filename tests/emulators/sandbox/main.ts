/**
 * @module `bun tests/emulators/sandbox/main.ts` (npm run emulator:sandbox): runs the sandbox messenger as its
 * own process — so it outlives an Olchat crash and keeps counting — prints one JSON line on stdout,
 * `{"url","api","ws","control"}`, and serves until SIGTERM/SIGINT. Options: `--port`, `--host`, `--dir`,
 * `--login-code`, `--rate` (sends per second per account, off by default), `--burst`, `--idle-timeout`
 * (or env SANDBOX_MESSENGER_<NAME>, e.g. SANDBOX_MESSENGER_PORT).
 */
import { startSandbox } from './index.ts'

function option(name: string): string | undefined {
  const flag = `--${name}`
  const i = process.argv.indexOf(flag)
  if (i !== -1) return process.argv[i + 1]
  const inline = process.argv.find((a) => a.startsWith(`${flag}=`))
  if (inline) return inline.slice(flag.length + 1)
  return process.env[`SANDBOX_MESSENGER_${name.toUpperCase().replaceAll('-', '_')}`]
}

function num(name: string): number | undefined {
  const raw = option(name)
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isFinite(n)) {
    console.error(`--${name} must be a number, got ${raw}`)
    process.exit(2)
  }
  return n
}

const rate = num('rate')
const sandbox = await startSandbox({
  host: option('host'),
  port: num('port'),
  dir: option('dir'),
  loginCode: option('login-code'),
  idleTimeoutSeconds: num('idle-timeout'),
  rateLimit: rate === undefined ? null : { perSecond: rate, burst: num('burst') ?? rate },
})
process.stdout.write(`${JSON.stringify(sandbox.info())}\n`)

let stopping = false
async function shutdown(): Promise<void> {
  if (stopping) return
  stopping = true
  await sandbox.stop()
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown())
process.on('SIGINT', () => void shutdown())
