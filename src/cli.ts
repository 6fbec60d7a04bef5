/**
 * Operator commands: `npm run olchat -- <command>` (or `bun src/cli.ts <command>`).
 *   migrate     apply pending migrations and exit
 *   reencrypt   re-seal every secret at rest with the newest key of OLCHAT_ENCRYPTION_KEYS
 *   keygen      print a new key-ring entry to append to OLCHAT_ENCRYPTION_KEYS
 * Uses the same configuration (environment) as the server; in embedded mode the server must be stopped.
 */
import { randomBytes } from 'node:crypto'
import { migrate } from '../storage/migrate.ts'
import { ConfigError, loadConfig } from './config/load.ts'
import { generateKey } from './crypto/key-ring.ts'
import { reencryptAll } from './crypto/reencrypt.ts'
import { createLogger } from './log/logger.ts'
import { claimDataDir, openServices } from './runtime/services.ts'

const commands = ['migrate', 'reencrypt', 'keygen'] as const
type Command = (typeof commands)[number]

const command = process.argv[2] as Command | undefined
if (!command || !commands.includes(command)) {
  console.error(`usage: olchat <${commands.join('|')}>`)
  process.exit(2)
}

if (command === 'keygen') {
  console.log(`k${Date.now().toString(36)}${randomBytes(2).toString('hex')}:${generateKey()}`)
  process.exit(0)
}

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`olchat: configuration error: ${error.message}`)
  process.exit(2)
}

const log = createLogger({ level: config.logLevel })
const release = claimDataDir(config)
const services = await openServices(config, log)
try {
  const migrated = await migrate(services.db.sql)
  if (command === 'migrate') {
    log.info({ applied: migrated.applied, version: migrated.version }, 'migrations done')
  } else {
    const result = await reencryptAll(services.db.sql, services.keys)
    log.info({ activeKey: services.keys.activeKeyId, ...result }, 'secrets re-sealed with the newest key')
  }
} finally {
  await services.close()
  release()
}
