/**
 * @module `contacts`: the contact cache of an account (I2). Refreshed while connected, cleared on disconnect
 * (R2); a contact missing from a refresh is marked stale and deleted 7 days later (R6). Phones are sealed.
 * Deleting a contact deletes its chats (and their messages and deliveries) by cascade.
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import { NotFoundError, type Queryable, sealOptional } from './common.ts'

export interface Contact {
  id: string
  accountId: string
  remoteId: string
  firstName: string | null
  lastName: string | null
  username: string | null
  phone: string | null
  avatarKey: string | null
  /** The avatar key last queued to the portal (a message carries the avatar only when it changed). */
  avatarSentKey: string | null
  refreshedAt: Date
  staleAt: Date | null
}

type ContactRow = Omit<Contact, 'phone'> & { phoneEnc: Buffer | null }

export interface ContactInput {
  remoteId: string
  firstName?: string | null
  lastName?: string | null
  username?: string | null
  phone?: string | null
  avatarKey?: string | null
}

export class ContactNotFoundError extends NotFoundError {
  override name = 'ContactNotFoundError'
  constructor(key: string) {
    super('contact', key)
  }
}

const PHONE = 'contacts.phone'

export class ContactRepository {
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
  ) {}

  /**
   * Inserts or refreshes a contact: the profile is replaced (the refresh is the truth), `refreshed_at` moves
   * to now and a stale mark is lifted (it was seen again).
   */
  async upsert(accountId: string, input: ContactInput, db: Queryable = this.sql): Promise<Contact> {
    const phone = sealOptional((v) => this.secrets.seal(v, PHONE), input.phone) ?? null
    const [row] = await db<ContactRow[]>`
      insert into contacts (account_id, remote_id, first_name, last_name, username, phone_enc, avatar_key)
      values (
        ${accountId}, ${input.remoteId}, ${input.firstName ?? null}, ${input.lastName ?? null},
        ${input.username ?? null}, ${phone}, ${input.avatarKey ?? null}
      )
      on conflict (account_id, remote_id) do update set
        first_name = excluded.first_name,
        last_name = excluded.last_name,
        username = excluded.username,
        phone_enc = excluded.phone_enc,
        avatar_key = excluded.avatar_key,
        refreshed_at = now(),
        stale_at = null
      returning *`
    return this.#open(row!)
  }

  /**
   * Takes the contact's avatar for the next message to the portal: when the current avatar is not the one
   * last sent, records it as sent and returns its key, otherwise returns nothing. Call it in the transaction
   * that queues the message, so the record and the message commit together; the row lock makes two
   * concurrent messages agree on which one carries it.
   */
  async takeAvatarToSend(id: string, db: Queryable = this.sql): Promise<string | undefined> {
    const [row] = await db<{ avatarKey: string }[]>`
      update contacts set avatar_sent_key = avatar_key
      where id = ${id} and avatar_key is not null and avatar_sent_key is distinct from avatar_key
      returning avatar_key`
    return row?.avatarKey
  }

  /** @throws ContactNotFoundError */
  async get(id: string, db: Queryable = this.sql): Promise<Contact> {
    const [row] = await db<ContactRow[]>`select * from contacts where id = ${id}`
    if (!row) throw new ContactNotFoundError(id)
    return this.#open(row)
  }

  async findByRemote(accountId: string, remoteId: string, db: Queryable = this.sql) {
    const [row] = await db<ContactRow[]>`
      select * from contacts where account_id = ${accountId} and remote_id = ${remoteId}`
    return row && this.#open(row)
  }

  async list(
    accountId: string,
    { includeStale = true }: { includeStale?: boolean } = {},
    db: Queryable = this.sql,
  ): Promise<Contact[]> {
    const rows = await db<ContactRow[]>`
      select * from contacts
      where account_id = ${accountId} ${includeStale ? db`` : db`and stale_at is null`}
      order by id`
    return rows.map((row) => this.#open(row))
  }

  /**
   * After a full refresh: marks stale every contact of the account whose remote id was not in it (R6).
   * Ids rather than a time, so clock skew between Olchat and PostgreSQL cannot mark a fresh contact.
   * Already stale contacts keep their original mark. @returns how many were marked.
   */
  async markStale(
    accountId: string,
    seenRemoteIds: string[],
    db: Queryable = this.sql,
    { activeWithinDays = 90 }: { activeWithinDays?: number } = {},
  ): Promise<number> {
    // A messenger's listing is partial (Telegram: the address book and the latest 100 dialogs), and deleting a
    // contact takes its chat and message metadata along: a customer whose chat moved within the message period
    // (R3) is not stale, whatever the listing says.
    const result = await db`
      update contacts k set stale_at = now()
      where k.account_id = ${accountId} and k.stale_at is null
        and k.remote_id <> all(${db.array(seenRemoteIds)}::text[])
        and not exists (
          select 1 from chats c
          where c.contact_id = k.id and c.updated_at > now() - ${activeWithinDays}::int * interval '1 day'
        )`
    return result.count
  }

  /** R6: deletes contacts marked stale before `cutoff`. @returns how many. */
  async deleteStaleBefore(cutoff: Date, db: Queryable = this.sql): Promise<number> {
    const result = await db`delete from contacts where stale_at < ${cutoff}`
    return result.count
  }

  /** R2: clears the whole contact cache of an account (disconnect). @returns how many. */
  async deleteAll(accountId: string, db: Queryable = this.sql): Promise<number> {
    const result = await db`delete from contacts where account_id = ${accountId}`
    return result.count
  }

  /** @returns whether it existed (D4 for one contact: its chats go with it). */
  async delete(id: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`delete from contacts where id = ${id}`
    return result.count > 0
  }

  #open(row: ContactRow): Contact {
    const { phoneEnc, ...rest } = row
    return { ...rest, phone: phoneEnc === null ? null : this.secrets.openText(phoneEnc, PHONE) }
  }
}
