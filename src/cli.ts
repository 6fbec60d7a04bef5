/**
 * Operator commands: `npm run olchat -- <command>` (or `bun src/cli.ts <command>`).
 *   migrate     apply pending migrations and exit
 *   reencrypt   re-seal every secret at rest with the newest key of OLCHAT_ENCRYPTION_KEYS
 *   keygen      print a new key-ring entry to append to OLCHAT_ENCRYPTION_KEYS
 *   portal-credentials <memberId> <clientId> <clientSecret|->
 *               store a local app's own credentials for one installed portal (the secret sealed; `-` reads
 *               it from stdin, keeping it out of the process list and shell history)
 *   audit-verify
 *               verify the audit log's hash chain (P2); prints the result and the chain head, exit 1 if broken
 *   access-export <portal> [--account <id> | --contact-remote-id|--contact-username|--contact-phone <v>]
 *               [--html] [--out <file>]   everything held about a portal, an account or a contact (D1)
 *   backup <create | restore <file> | verify <file> | prune | list>
 *               encrypted backups of the database (P4); restore needs an empty database
 * Uses the same configuration (environment) as the server; in embedded mode the server must be stopped.
 */
import { randomBytes } from 'node:crypto'
import { migrate } from '../storage/migrate.ts'
import { createRepositories } from '../storage/repos/index.ts'
import { runBackupCommand } from './backup/command.ts'
import { portalRef } from './bitrix/app/security.ts'
import { loadConfigOrExit } from './config/load.ts'
import { generateKey } from './crypto/key-ring.ts'
import { reencryptAll } from './crypto/reencrypt.ts'
import { createLogger } from './log/logger.ts'
import { ACCESS_EXPORT_USAGE, parseAccessExportArgs, runAccessExport } from './privacy/access-export-cli.ts'
import { verifyAuditChain } from './privacy/audit-chain.ts'
import { claimDataDir, openServices } from './runtime/services.ts'

const commands = [
  'migrate',
  'reencrypt',
  'keygen',
  'portal-credentials',
  'audit-verify',
  'access-export',
  'backup',
] as const
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

/** `portal-credentials` arguments, checked before anything is opened. */
async function credentialArgs(): Promise<{ memberId: string; clientId: string; clientSecret: string }> {
  const [memberId, clientId, secretArg] = process.argv.slice(3)
  const secret = secretArg === '-' ? (await Bun.stdin.text()).trim() : secretArg
  if (!memberId || !clientId || !secret || !/^[\x21-\x7e]{1,512}$/.test(`${memberId}${clientId}${secret}`)) {
    console.error('usage: olchat portal-credentials <memberId> <clientId> <clientSecret|->')
    process.exit(2)
  }
  return { memberId, clientId, clientSecret: secret }
}
const credentials = command === 'portal-credentials' ? await credentialArgs() : undefined
const exportArgs = command === 'access-export' ? parseAccessExportArgs(process.argv.slice(3)) : undefined
if (command === 'access-export' && !exportArgs) {
  console.error(ACCESS_EXPORT_USAGE)
  process.exit(2)
}

const config = loadConfigOrExit()

const log = createLogger({ level: config.logLevel })
const release = claimDataDir(config)
if (command === 'backup') {
  // Before any service opens: PGlite dumps and restores its own directory, which nobody else may hold.
  const code = await runBackupCommand(process.argv.slice(3), config, log).catch((error: Error) => {
    console.error(`olchat: backup failed: ${error.message}`)
    return 1
  })
  release()
  process.exit(code)
}
const services = await openServices(config, log)
try {
  const migrated = await migrate(services.db.sql)
  if (command === 'migrate') {
    log.info({ applied: migrated.applied, version: migrated.version }, 'migrations done')
  } else if (exportArgs) {
    const repos = createRepositories(services.db.sql, services.keys)
    const { cache, files, keys } = services
    const deps = { sql: services.db.sql, cache, files, keys, repos, periods: config.retention, log }
    await runAccessExport(deps, exportArgs).then(
      (requestId) => log.info({ requestId }, 'access export written'),
      (error: Error) => {
        // Validation and "no such portal/account" messages name no personal data.
        console.error(`olchat: access export failed: ${error.message}`)
        process.exitCode = 1
      },
    )
  } else if (command === 'audit-verify') {
    const report = await verifyAuditChain(services.db.sql)
    console.log(JSON.stringify(report))
    if (!report.ok) process.exitCode = 1
  } else if (credentials) {
    const repos = createRepositories(services.db.sql, services.keys)
    const portal = await repos.portals.findByMemberId(credentials.memberId)
    if (!portal) {
      console.error(`olchat: no installed portal has member_id ${credentials.memberId}`)
      process.exitCode = 1
    } else {
      await services.db.sql.begin(async (tx) => {
        await repos.portals.setAppCredentials(portal.id, credentials, tx)
        await repos.auditLog.append(
          {
            portalRef: portalRef(services.keys, portal.memberId),
            actor: 'cli',
            action: 'portal.credentials.set',
            details: { clientId: credentials.clientId },
          },
          tx,
        )
      })
      log.info({ portalId: portal.id, clientId: credentials.clientId }, 'local-app credentials stored')
    }
  } else {
    const result = await reencryptAll(services.db.sql, services.keys)
    log.info({ activeKey: services.keys.activeKeyId, ...result }, 'secrets re-sealed with the newest key')
  }
} finally {
  await services.close()
  release()
}
