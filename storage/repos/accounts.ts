/**
 * @module `accounts`: connected messenger accounts (I1). The phone number and the credentials (e.g. a MAX bot
 * token) are sealed here (S4). Deleting an account deletes its sessions, contacts, chats, messages and
 * queued deliveries by cascade (D2).
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import { NotFoundError, type Queryable, sealOptional } from './common.ts'

export type Messenger = 'telegram' | 'max' | 'sandbox'
export type AccountHealth =
  | 'connecting'
  | 'online'
  | 'reconnecting'
  | 'needs_login'
  | 'flood_wait'
  | 'disconnecting'
  | 'disconnected'

export interface Account {
  id: string
  portalId: string
  messenger: Messenger
  /** `lines.id` of the Open Line it is bound to. */
  lineId: string | null
  remoteId: string | null
  displayName: string | null
  username: string | null
  phone: string | null
  avatarKey: string | null
  credentials: string | null
  /**
   * Bitrix24 user (employee) the account owner's own messages — typed on another device — are shown as in the
   * Open Line; null: they are not relayed.
   */
  employeeId: string | null
  health: AccountHealth
  healthChangedAt: Date
  staleAt: Date | null
  createdAt: Date
  updatedAt: Date
}

type AccountRow = Omit<Account, 'phone' | 'credentials'> & {
  phoneEnc: Buffer | null
  credentialsEnc: Buffer | null
}

export interface AccountInput {
  /** A uuid chosen by the caller (a login names its account before the row exists); default: a new one. */
  id?: string
  portalId: string
  messenger: Messenger
  lineId?: string | null
  remoteId?: string | null
  displayName?: string | null
  username?: string | null
  phone?: string | null
  avatarKey?: string | null
  credentials?: string | null
  health?: AccountHealth
}

/** Profile fields; an omitted field is left unchanged, null clears it. */
export type AccountProfile = Partial<
  Pick<Account, 'remoteId' | 'displayName' | 'username' | 'phone' | 'avatarKey'>
>

export class AccountNotFoundError extends NotFoundError {
  override name = 'AccountNotFoundError'
  constructor(key: string) {
    super('account', key)
  }
}

const PHONE = 'accounts.phone'
const CREDENTIALS = 'accounts.credentials'

export class AccountRepository {
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
  ) {}

  async create(input: AccountInput, db: Queryable = this.sql): Promise<Account> {
    const [row] = await db<AccountRow[]>`
      insert into accounts (
        id, portal_id, messenger, line_id, remote_id, display_name, username, phone_enc, avatar_key,
        credentials_enc, health
      ) values (
        coalesce(${input.id ?? null}::uuid, gen_random_uuid()), ${input.portalId}, ${input.messenger},
        ${input.lineId ?? null}, ${input.remoteId ?? null},
        ${input.displayName ?? null}, ${input.username ?? null},
        ${sealOptional((v) => this.secrets.seal(v, PHONE), input.phone) ?? null}, ${input.avatarKey ?? null},
        ${sealOptional((v) => this.secrets.seal(v, CREDENTIALS), input.credentials) ?? null},
        ${input.health ?? 'connecting'}
      )
      returning *`
    return this.#open(row!)
  }

  /** @throws AccountNotFoundError */
  async get(id: string, db: Queryable = this.sql): Promise<Account> {
    const [row] = await db<AccountRow[]>`select * from accounts where id = ${id}`
    if (!row) throw new AccountNotFoundError(id)
    return this.#open(row)
  }

  async listByPortal(portalId: string, db: Queryable = this.sql): Promise<Account[]> {
    const rows = await db<AccountRow[]>`
      select * from accounts where portal_id = ${portalId} order by created_at, id`
    return rows.map((row) => this.#open(row))
  }

  /**
   * The account of `messenger` bound to the Open Line `lineId` (`lines.id`), oldest first when several are:
   * one indexed lookup per operator event, however many accounts the portal has.
   */
  async findBoundToLine(
    lineId: string,
    messenger: Account['messenger'],
    db: Queryable = this.sql,
  ): Promise<Account | undefined> {
    const [row] = await db<AccountRow[]>`
      select * from accounts where line_id = ${lineId} and messenger = ${messenger}
      order by created_at, id limit 1`
    return row ? this.#open(row) : undefined
  }

  /** Every account not fully disconnected: what a starting supervisor looks at. */
  async listConnectable(db: Queryable = this.sql): Promise<Account[]> {
    const rows = await db<AccountRow[]>`
      select * from accounts where health <> 'disconnected' order by created_at, id`
    return rows.map((row) => this.#open(row))
  }

  /** Sets the health; `health_changed_at` moves only when the value actually changes. */
  async setHealth(id: string, health: AccountHealth, db: Queryable = this.sql): Promise<Account> {
    const [row] = await db<AccountRow[]>`
      update accounts set
        health_changed_at = case when health = ${health} then health_changed_at else now() end,
        health = ${health},
        updated_at = now()
      where id = ${id}
      returning *`
    if (!row) throw new AccountNotFoundError(id)
    return this.#open(row)
  }

  async updateProfile(id: string, profile: AccountProfile, db: Queryable = this.sql): Promise<Account> {
    // undefined means "keep"; a flag per column tells SQL whether to take the new value (which may be null).
    const has = (key: keyof AccountProfile) => profile[key] !== undefined
    const phone = sealOptional((v) => this.secrets.seal(v, PHONE), profile.phone) ?? null
    const [row] = await db<AccountRow[]>`
      update accounts set
        remote_id = case when ${has('remoteId')} then ${profile.remoteId ?? null} else remote_id end,
        display_name = case when ${has('displayName')}
          then ${profile.displayName ?? null} else display_name end,
        username = case when ${has('username')} then ${profile.username ?? null} else username end,
        phone_enc = case when ${has('phone')} then ${phone}::bytea else phone_enc end,
        avatar_key = case when ${has('avatarKey')} then ${profile.avatarKey ?? null} else avatar_key end,
        updated_at = now()
      where id = ${id}
      returning *`
    if (!row) throw new AccountNotFoundError(id)
    return this.#open(row)
  }

  async setCredentials(id: string, credentials: string | null, db: Queryable = this.sql): Promise<void> {
    const sealed = credentials === null ? null : this.secrets.seal(credentials, CREDENTIALS)
    const result = await db`
      update accounts set credentials_enc = ${sealed}, updated_at = now() where id = ${id}`
    if (result.count === 0) throw new AccountNotFoundError(id)
  }

  /**
   * Disconnected (R1, D2): the login and the profile go — credentials, remote id, name, username, phone and
   * photo key — while the row stays for the metadata linked to it (R3) until it is deleted.
   */
  async forgetLogin(id: string, db: Queryable = this.sql): Promise<void> {
    const result = await db`
      update accounts set credentials_enc = null, remote_id = null, display_name = null, username = null,
        phone_enc = null, avatar_key = null, updated_at = now()
      where id = ${id}`
    if (result.count === 0) throw new AccountNotFoundError(id)
  }

  /** Sets (or with null clears) the Bitrix24 employee the account's own messages are shown as. */
  async setEmployee(id: string, employeeId: string | null, db: Queryable = this.sql): Promise<void> {
    const result = await db`
      update accounts set employee_id = ${employeeId}, updated_at = now() where id = ${id}`
    if (result.count === 0) throw new AccountNotFoundError(id)
  }

  /** Binds the account to an Open Line (`lines.id`), or unbinds it with null. */
  async bindLine(id: string, lineId: string | null, db: Queryable = this.sql): Promise<void> {
    const result = await db`update accounts set line_id = ${lineId}, updated_at = now() where id = ${id}`
    if (result.count === 0) throw new AccountNotFoundError(id)
  }

  /** Marks (or with null unmarks) the account stale (R6). */
  async setStale(id: string, staleAt: Date | null, db: Queryable = this.sql): Promise<void> {
    const result = await db`update accounts set stale_at = ${staleAt}, updated_at = now() where id = ${id}`
    if (result.count === 0) throw new AccountNotFoundError(id)
  }

  /** Deletes the account and, by cascade, everything relayed through it (D2). @returns whether it existed. */
  async delete(id: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`delete from accounts where id = ${id}`
    return result.count > 0
  }

  #open(row: AccountRow): Account {
    const { phoneEnc, credentialsEnc, ...rest } = row
    return {
      ...rest,
      phone: phoneEnc === null ? null : this.secrets.openText(phoneEnc, PHONE),
      credentials: credentialsEnc === null ? null : this.secrets.openText(credentialsEnc, CREDENTIALS),
    }
  }
}

/**
 * The employee of an account (`Account.employeeId`) without loading and unsealing the row: the inbound relay
 * asks it for every own message it sees, so a change made meanwhile applies to the next one.
 */
export async function accountEmployee(db: Queryable, accountId: string): Promise<string | null> {
  const [row] = await db<{ employeeId: string | null }[]>`
    select employee_id from accounts where id = ${accountId}`
  return row?.employeeId ?? null
}
