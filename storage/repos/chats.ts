/**
 * @module `chats`: an account's conversation with a contact, mapped to an Open Lines chat. An unbound mapping
 * is marked stale and deleted 7 days later (R6); deleting a chat deletes its messages and deliveries.
 */
import type { Sql } from '../db.ts'
import { jsonParam, NotFoundError, parseJson, type Queryable } from './common.ts'

export type ChatContext = Record<string, unknown>

export interface Chat {
  id: string
  accountId: string
  contactId: string | null
  remoteChatId: string
  /** The Open Lines chat id, once the portal has seen the chat. */
  portalChatId: string | null
  context: ChatContext
  lastMessageAt: Date | null
  staleAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export interface ChatInput {
  accountId: string
  remoteChatId: string
  contactId?: string | null
  portalChatId?: string | null
  context?: ChatContext
}

export class ChatNotFoundError extends NotFoundError {
  override name = 'ChatNotFoundError'
  constructor(key: string) {
    super('chat', key)
  }
}

type ChatRow = Omit<Chat, 'context'> & { context: string }

const toChat = (row: ChatRow): Chat => ({ ...row, context: parseJson(row.context) })

export class ChatRepository {
  constructor(private readonly sql: Sql) {}

  #columns(db: Queryable) {
    return db`
      id, account_id, contact_id, remote_chat_id, portal_chat_id, context::text as context, last_message_at,
      stale_at, created_at, updated_at`
  }

  /** Creates the chat or updates the given fields (omitted ones are kept); lifts a stale mark. */
  async upsert(input: ChatInput, db: Queryable = this.sql): Promise<Chat> {
    const context = input.context === undefined ? null : jsonParam(db, input.context)
    const [row] = await db<ChatRow[]>`
      insert into chats (account_id, remote_chat_id, contact_id, portal_chat_id, context)
      values (
        ${input.accountId}, ${input.remoteChatId}, ${input.contactId ?? null}, ${input.portalChatId ?? null},
        coalesce(${context}::jsonb, '{}')
      )
      on conflict (account_id, remote_chat_id) do update set
        contact_id = coalesce(excluded.contact_id, chats.contact_id),
        portal_chat_id = coalesce(excluded.portal_chat_id, chats.portal_chat_id),
        context = coalesce(${context}::jsonb, chats.context),
        stale_at = null,
        updated_at = now()
      returning ${this.#columns(db)}`
    return toChat(row!)
  }

  /** @throws ChatNotFoundError */
  async get(id: string, db: Queryable = this.sql): Promise<Chat> {
    const [row] = await db<ChatRow[]>`select ${this.#columns(db)} from chats where id = ${id}`
    if (!row) throw new ChatNotFoundError(id)
    return toChat(row)
  }

  async getByRemote(accountId: string, remoteChatId: string, db: Queryable = this.sql) {
    const [row] = await db<ChatRow[]>`
      select ${this.#columns(db)} from chats
      where account_id = ${accountId} and remote_chat_id = ${remoteChatId}`
    return row && toChat(row)
  }

  /** Finds the chat an Open Lines event is about. */
  async getByPortalChat(accountId: string, portalChatId: string, db: Queryable = this.sql) {
    const [row] = await db<ChatRow[]>`
      select ${this.#columns(db)} from chats
      where account_id = ${accountId} and portal_chat_id = ${portalChatId}`
    return row && toChat(row)
  }

  async listByAccount(accountId: string, db: Queryable = this.sql): Promise<Chat[]> {
    const rows = await db<ChatRow[]>`
      select ${this.#columns(db)} from chats where account_id = ${accountId} order by id`
    return rows.map(toChat)
  }

  async setPortalChatId(id: string, portalChatId: string | null, db: Queryable = this.sql) {
    const result = await db`
      update chats set portal_chat_id = ${portalChatId}, updated_at = now() where id = ${id}`
    if (result.count === 0) throw new ChatNotFoundError(id)
  }

  /** Records activity; never moves `last_message_at` backwards (events arrive out of order). */
  async touch(id: string, at: Date, db: Queryable = this.sql): Promise<void> {
    const result = await db`
      update chats set last_message_at = greatest(last_message_at, ${at}), stale_at = null
      where id = ${id}`
    if (result.count === 0) throw new ChatNotFoundError(id)
  }

  /** Marks (or with null unmarks) a chat mapping stale (R6). */
  async setStale(id: string, staleAt: Date | null, db: Queryable = this.sql): Promise<void> {
    const result = await db`update chats set stale_at = ${staleAt}, updated_at = now() where id = ${id}`
    if (result.count === 0) throw new ChatNotFoundError(id)
  }

  /** R6: deletes chats marked stale before `cutoff`. @returns how many. */
  async deleteStaleBefore(cutoff: Date, db: Queryable = this.sql): Promise<number> {
    const result = await db`delete from chats where stale_at < ${cutoff}`
    return result.count
  }

  async delete(id: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`delete from chats where id = ${id}`
    return result.count > 0
  }
}
