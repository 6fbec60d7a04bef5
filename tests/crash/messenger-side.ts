/**
 * @module The messenger half of a crash world: its emulator process, the account Olchat runs there, the
 * customers and what the emulator received. One implementation per connector (sandbox, MAX), so the same
 * burst and verdict run over each; every verdict comes from the emulator's own state and counters.
 */
import type { Sql } from '../../storage/db.ts'
import type { Repositories } from '../../storage/repos/index.ts'

export interface SideContext {
  sql: Sql
  repos: Repositories
  portalId: string
  /** Olchat's admin API with the support token (`/api/v1/…`). */
  admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>
}

export interface MessengerChat {
  /** Index of the customer (0 … chats-1) this chat is with. */
  chat: number
  /** Texts the account sent into the chat, in the order the messenger holds them. */
  outTexts: string[]
}

export interface MessengerSide {
  readonly name: 'sandbox' | 'max'
  /** The connector id Olchat registers on the portal for this messenger. */
  readonly portalConnector: string
  /** Starts the emulator process; returns the variables Olchat needs to reach it. */
  start(): Promise<Record<string, string>>
  /** Creates the account at the messenger and in Olchat (as an admin would), ready to go online. */
  login(context: SideContext): Promise<string>
  /** Creates `count` customers, one chat each. */
  createCustomers(count: number): Promise<void>
  /** Customer `chat` writes `text` to the account; resolves once the messenger accepted it. */
  customerSend(chat: number, text: string): Promise<void>
  /** What the account sent, per customer chat. */
  chats(): Promise<MessengerChat[]>
  /** Messages the emulator itself saw arrive twice (its duplicate counter). */
  repeats(): Promise<number>
  close(): Promise<void>
}

export async function call<T>(base: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base.replace(/\/$/, '')}/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}
