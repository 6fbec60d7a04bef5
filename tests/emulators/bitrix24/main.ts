/**
 * @module `bun tests/emulators/bitrix24/main.ts` (npm run emulator:bitrix24): runs the portal emulator as its
 * own process, prints one JSON line on stdout —
 * `{"oauth","portal","control","member_id","webhook","client_id"}` — and serves until SIGTERM/SIGINT.
 * Options: `--client-id`, `--client-secret`, `--drain`, `--burst`, `--port`, `--oauth-port`, `--member-id`,
 * `--host` (or env BITRIX24_EMULATOR_<NAME>, e.g. BITRIX24_EMULATOR_CLIENT_ID).
 */
import { startBitrix24Emulator } from './index.ts'

function option(name: string): string | undefined {
  const flag = `--${name}`
  const i = process.argv.indexOf(flag)
  if (i !== -1) return process.argv[i + 1]
  const inline = process.argv.find((a) => a.startsWith(`${flag}=`))
  if (inline) return inline.slice(flag.length + 1)
  return process.env[`BITRIX24_EMULATOR_${name.toUpperCase().replaceAll('-', '_')}`]
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

const drain = num('drain')
const burst = num('burst')
const emulator = await startBitrix24Emulator({
  host: option('host'),
  oauthPort: num('oauth-port'),
  app: { clientId: option('client-id'), clientSecret: option('client-secret') },
  rateLimit: { drainPerSecond: drain, burst },
  portals: [{ memberId: option('member-id'), port: num('port') }],
})
const info = emulator.info()
process.stdout.write(
  `${JSON.stringify({
    oauth: emulator.oauthUrl,
    portal: info.url,
    control: info.controlUrl,
    member_id: info.memberId,
    webhook: info.webhookUrl,
    client_id: emulator.emu.primaryClientId,
  })}\n`,
)

let stopping = false
async function shutdown(): Promise<void> {
  if (stopping) return
  stopping = true
  await emulator.stop()
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown())
process.on('SIGINT', () => void shutdown())
