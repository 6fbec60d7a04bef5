/**
 * @module `olchat access-export <portal> [--account <id> | --contact-remote-id <id> | --contact-username
 * <name> | --contact-phone <phone>] [--html] [--out <file>]` (D1): the export of a portal (by address,
 * member id or id), optionally narrowed, as JSON or as the Russian HTML report, to stdout or to a file
 * created with mode 0600 (it is personal data). Recorded as an access request by `cli`.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { type AccessExportDeps, exportSubjectData } from './access-export.ts'
import { renderAccessReport } from './access-export-html.ts'

export const ACCESS_EXPORT_USAGE =
  'usage: olchat access-export <portal address|member id|id> [--account <id> | --contact-remote-id <id> | ' +
  '--contact-username <name> | --contact-phone <phone>] [--html] [--out <file>]'

export interface AccessExportArgs {
  request: Record<string, unknown>
  html: boolean
  out: string | undefined
}

/** @returns the parsed arguments, or undefined when they are not usable (the caller prints the usage). */
export function parseAccessExportArgs(args: string[]): AccessExportArgs | undefined {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        account: { type: 'string' },
        'contact-remote-id': { type: 'string' },
        'contact-username': { type: 'string' },
        'contact-phone': { type: 'string' },
        html: { type: 'boolean', default: false },
        out: { type: 'string' },
      },
    })
    if (positionals.length !== 1) return undefined
    const contact = Object.fromEntries(
      [
        ['remoteId', values['contact-remote-id']],
        ['username', values['contact-username']],
        ['phone', values['contact-phone']],
      ].filter(([, value]) => value !== undefined),
    )
    return {
      request: {
        portal: positionals[0],
        ...(values.account ? { account: values.account } : {}),
        ...(Object.keys(contact).length > 0 ? { contact } : {}),
        requestedBy: 'cli',
        requestedRole: 'support',
        via: 'cli',
      },
      html: values.html ?? false,
      out: values.out,
    }
  } catch {
    return undefined
  }
}

/** Runs the export (validated by the privacy module; errors propagate). @returns the request id. */
export async function runAccessExport(deps: AccessExportDeps, args: AccessExportArgs): Promise<string> {
  const report = await exportSubjectData(deps, args.request)
  const text = args.html ? renderAccessReport(report) : `${JSON.stringify(report, null, 2)}\n`
  if (args.out) writeFileSync(args.out, text, { mode: 0o600, flag: 'wx' })
  else process.stdout.write(text)
  return report.requestId
}
