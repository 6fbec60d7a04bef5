/**
 * @module `bun tests/emulators/sandbox/main.ts` (npm run emulator:sandbox): runs the sandbox messenger as its
 * own process — so it outlives an Olchat crash and keeps counting — prints one JSON line on stdout,
 * `{"url","api","ws","control"}`, and serves until SIGTERM/SIGINT. Options: `--port`, `--host`, `--dir`,
 * `--login-code`, `--rate` (sends per second per account, off by default), `--burst`, `--idle-timeout`
 * (or env SANDBOX_MESSENGER_<NAME>, e.g. SANDBOX_MESSENGER_PORT).
 */
import { processOptions, serveUntilSignal } from '../process-options.ts'
import { startSandbox } from './index.ts'

const { option, num } = processOptions('SANDBOX_MESSENGER')

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

serveUntilSignal(() => sandbox.stop())
