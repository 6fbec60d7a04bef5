/**
 * @module `bun tests/emulators/bitrix24/main.ts` (npm run emulator:bitrix24): runs the portal emulator as its
 * own process, prints one JSON line on stdout —
 * `{"oauth","portal","control","member_id","webhook","client_id"}` — and serves until SIGTERM/SIGINT.
 * Options: `--client-id`, `--client-secret`, `--drain`, `--burst`, `--port`, `--oauth-port`, `--member-id`,
 * `--host` (or env BITRIX24_EMULATOR_<NAME>, e.g. BITRIX24_EMULATOR_CLIENT_ID).
 */
import { processOptions, serveUntilSignal } from '../process-options.ts'
import { startBitrix24Emulator } from './index.ts'

const { option, num } = processOptions('BITRIX24_EMULATOR')

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

serveUntilSignal(() => emulator.stop())
