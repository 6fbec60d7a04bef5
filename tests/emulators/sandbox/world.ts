/**
 * @module The sandbox's whole state: accounts (found by id or phone), customers, sessions, pending logins,
 * files, faults and the counters the acceptance verdicts are read from.
 */
import { randomBytes } from 'node:crypto'
import { ApiError, badRequest, revokedError } from './errors.ts'
import { Faults } from './faults.ts'
import { FileStore } from './files.ts'
import type {
  Account,
  AccountCounters,
  Chat,
  Customer,
  RevokeReason,
  SandboxOptions,
  Session,
} from './types.ts'

export interface Login {
  hash: string
  phone: string
  account: Account
  code: string
  expiresAt: number
  stage: 'code' | 'password'
}

/** Counters for events; totals that can be counted from the state are computed in `stats()` instead. */
export class Counters {
  logins = 0
  logouts = 0
  sessionsRevoked = 0
  connectionsOpened = 0
  /**
   * Live connections that ended by a close the sandbox did not make itself (client close, TCP loss, or
   * unanswered server pings), by close code: `{"1000": n, "1006": n}`. Closes of the sandbox's own
   * (duplicates, revocations, drops, DIFFERENCE_TOO_LONG) are counted elsewhere.
   */
  liveClosed: Record<string, number> = {}
  authKeyDuplicated = 0
  droppedConnections = 0
  updatesDelivered = 0
  messagesReceived = 0
  customerMessages = 0
  /** Messages the account's owner typed on another device (`owner-send`; not in `messagesReceived`). */
  ownerMessages = 0
  randomIdHits = 0
  edits = 0
  deletes = 0
  reads = 0
  typing = 0
}

export type AccountRef = number | string

export function normalizePhone(raw: string): string | null {
  const cleaned = raw.replace(/[\s\-()]/g, '')
  if (!/^\+?\d{5,15}$/.test(cleaned)) return null
  return `+${cleaned.replace(/^\+/, '')}`
}

export class World {
  readonly accounts = new Map<number, Account>()
  readonly byPhone = new Map<string, Account>()
  readonly customers = new Map<number, Customer>()
  readonly sessions = new Map<string, Session>()
  readonly logins = new Map<string, Login>()
  readonly loginByPhone = new Map<string, Login>()
  readonly files: FileStore
  readonly faults: Faults
  counters = new Counters()
  readonly codeTtlMs: number
  readonly maxUpdates: number
  readonly loginCode: string | undefined
  private nextAccountId = 1_000_001
  private nextCustomerId = 5_000_001

  constructor(options: SandboxOptions) {
    this.files = new FileStore(options.dir, options.maxFileBytes ?? 512 * 1024 * 1024)
    this.faults = new Faults(options.rateLimit ?? null)
    this.codeTtlMs = options.codeTtlMs ?? 5 * 60_000
    this.maxUpdates = options.maxUpdatesPerAccount ?? 100_000
    this.loginCode = options.loginCode
  }

  createAccount(input: {
    phone: string
    name?: string
    username?: string
    password?: string
    passwordHint?: string
  }): Account {
    const phone = normalizePhone(input.phone)
    if (!phone) throw badRequest('PHONE_NUMBER_INVALID', `Not a phone number: ${input.phone}`)
    if (this.byPhone.has(phone)) throw badRequest('PHONE_NUMBER_OCCUPIED', `${phone} already has an account`)
    const id = this.nextAccountId++
    const account: Account = { id, phone, name: input.name ?? `Account ${id}`, seq: 0, lastMessageId: 0 }
    if (input.username !== undefined) account.username = input.username
    if (input.password !== undefined) account.password = input.password
    if (input.passwordHint !== undefined) account.passwordHint = input.passwordHint
    this.accounts.set(id, account)
    this.byPhone.set(phone, account)
    return account
  }

  /** An account by id, or by phone when given a string. */
  account(ref: AccountRef): Account {
    const account =
      typeof ref === 'number' ? this.accounts.get(ref) : this.byPhone.get(normalizePhone(ref) ?? '')
    if (!account) throw new ApiError('ACCOUNT_NOT_FOUND', 404, `No account ${ref}`)
    return account
  }

  createCustomer(input: { name?: string; username?: string; phone?: string }): Customer {
    const id = this.nextCustomerId++
    const customer: Customer = { id, name: input.name ?? `Customer ${id}` }
    if (input.username !== undefined) customer.username = input.username
    if (input.phone !== undefined) customer.phone = input.phone
    this.customers.set(id, customer)
    return customer
  }

  customer(id: number): Customer {
    const customer = this.customers.get(id)
    if (!customer) throw new ApiError('CUSTOMER_NOT_FOUND', 404, `No customer ${id}`)
    return customer
  }

  /** The account's chat with a customer, created on first use. */
  chat(account: Account, customer: Customer): Chat {
    account.chats ??= new Map()
    let chat = account.chats.get(customer.id)
    if (!chat) {
      chat = {
        customer,
        messages: [],
        readInboxMaxId: 0,
        readOutboxMaxId: 0,
        typingUntil: 0,
        received: 0,
        randomIdHits: 0,
      }
      account.chats.set(customer.id, chat)
    }
    return chat
  }

  accountCounters(account: Account): AccountCounters {
    account.counters ??= {
      received: 0,
      randomIdHits: 0,
      authKeyDuplicated: 0,
      updatesDelivered: 0,
      floodWaits: 0,
    }
    return account.counters
  }

  createSession(account: Account): Session {
    const session: Session = { token: randomBytes(24).toString('base64url'), account, createdAt: Date.now() }
    this.sessions.set(session.token, session)
    account.sessions ??= new Set()
    account.sessions.add(session)
    return session
  }

  /** The session of a bearer token; a revoked one answers with the reason it was revoked. */
  authenticate(token: string | undefined): Session {
    const session = token === undefined ? undefined : this.sessions.get(token)
    if (!session) throw new ApiError('AUTH_KEY_UNREGISTERED', 401, 'Unknown session; log in first')
    if (session.revoked) throw revokedError(session.revoked)
    return session
  }

  /** Revokes a session for good and closes its live connection with the same reason. */
  revoke(session: Session, reason: RevokeReason): void {
    if (session.revoked) return
    session.revoked = reason
    session.account.sessions?.delete(session)
    this.counters.sessionsRevoked++
    const live = session.live
    if (live) {
      session.live = undefined
      live.close(closeCode(reason), reason)
    }
  }
}

/** WebSocket close codes: 4000 + the HTTP status the same error has in the JSON API. */
export function closeCode(reason: string): number {
  return reason === 'AUTH_KEY_DUPLICATED' ? 4406 : 4401
}
