/**
 * @module One emulated portal: users, lines, app installations, connectors and their status rows (§5.1),
 * external users, Open Lines chats with sessions and messages (§5.8), fetched files. Plus the JSON view
 * served at `GET /_emulator/state`.
 */
import type { LeakyBucket } from './rate-limit.ts'
import type {
  ConnectorRecord,
  ExternalUser,
  FileRecord,
  Installation,
  LineRecord,
  OlChat,
  OperatorFile,
  StatusRow,
  UserRecord,
} from './types.ts'

export function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes))
  return [...buf].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** Token-like string: 32 lower-case alphanumerics, like the samples in §2.2/§3.1. */
export function randomToken(length = 32): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const buf = crypto.getRandomValues(new Uint8Array(length))
  return [...buf].map((b) => alphabet[b % alphabet.length]).join('')
}

export function statusKey(connector: string, line: number): string {
  return `${connector}|${line}`
}

export class Portal {
  readonly users = new Map<number, UserRecord>()
  readonly lines = new Map<number, LineRecord>()
  readonly installs = new Map<string, Installation>()
  readonly connectors = new Map<string, ConnectorRecord>()
  readonly statuses = new Map<string, StatusRow>()
  /** SETTING_CONNECTOR placement bindings by connector id (§5.2, §7). */
  readonly placements = new Map<string, { handler: string; clientId: string; comment: string | null }>()
  /** §5.8: keyed `<connector>|<user.id>`. */
  readonly externalUsers = new Map<string, ExternalUser>()
  /** §5.8: keyed by user code `<connector>|<line>|<chat.id>|<b24UserId or 0>`. */
  readonly chats = new Map<string, OlChat>()
  readonly chatsById = new Map<number, OlChat>()
  readonly files: FileRecord[] = []
  readonly operatorFiles = new Map<number, OperatorFile>()
  readonly webhooks = new Set<string>()
  paymentRequired = false
  bucket: LeakyBucket
  url = ''
  domain = ''
  private readonly seqs = {
    user: 584,
    chat: 1766,
    message: 86496,
    session: 322,
    handler: 554,
    line: 0,
    file: 0,
  }

  constructor(
    readonly memberId: string,
    readonly languageId: string,
    readonly license: string,
    readonly status: string,
    bucket: LeakyBucket,
  ) {
    this.bucket = bucket
  }

  next(kind: keyof Portal['seqs']): number {
    this.seqs[kind] += 1
    return this.seqs[kind]
  }

  /** Keeps generated ids above explicitly chosen ones. */
  bump(kind: keyof Portal['seqs'], atLeast: number): void {
    if (this.seqs[kind] < atLeast) this.seqs[kind] = atLeast
  }

  setUrl(url: string): void {
    this.url = url
    this.domain = new URL(url).host
  }

  get clientEndpoint(): string {
    return `${this.url}/rest/`
  }

  /** §5.1: `Status::getInstance` creates an all-N row as a side effect. */
  statusRow(connector: string, line: number): StatusRow {
    const key = statusKey(connector, line)
    let row = this.statuses.get(key)
    if (!row) {
      row = { connector, line, ACTIVE: false, CONNECTION: false, REGISTER: false, ERROR: false, data: {} }
      this.statuses.set(key, row)
    }
    return row
  }

  findStatus(connector: string, line: number): StatusRow | undefined {
    return this.statuses.get(statusKey(connector, line))
  }

  /** Installed (not uninstalled) app, whether or not installFinish ran. */
  installation(clientId: string): Installation | undefined {
    const inst = this.installs.get(clientId)
    return inst?.installed ? inst : undefined
  }
}

/** §5.1 flag semantics. */
export function isConfigured(row: StatusRow | undefined): boolean {
  return !!row && row.ACTIVE && row.CONNECTION && row.REGISTER
}

export function isStatusOk(row: StatusRow | undefined): boolean {
  return isConfigured(row) && !row!.ERROR
}

/** JSON view of a portal for `GET /_emulator/state`. */
export function portalState(portal: Portal): Record<string, unknown> {
  return {
    memberId: portal.memberId,
    domain: portal.domain,
    url: portal.url,
    paymentRequired: portal.paymentRequired,
    users: [...portal.users.values()],
    lines: [...portal.lines.values()],
    installations: [...portal.installs.values()],
    connectors: [...portal.connectors.values()],
    statuses: [...portal.statuses.values()].map((row) => ({
      ...row,
      CONFIGURED: isConfigured(row),
      STATUS: isStatusOk(row),
    })),
    placements: [...portal.placements.entries()].map(([connector, p]) => ({
      placement: 'SETTING_CONNECTOR',
      connector,
      ...p,
    })),
    externalUsers: [...portal.externalUsers.values()],
    chats: [...portal.chats.values()],
    files: portal.files,
    operatorFiles: [...portal.operatorFiles.values()].map(({ bytes, ...f }) => ({
      ...f,
      size: bytes.length,
    })),
  }
}
