/**
 * @module Wake-ups between processes: LISTEN/NOTIFY on a real PostgreSQL server, an in-process emitter with
 * embedded PGlite (one process, and no LISTEN there).
 *
 * A notification is only a hint that a row changed; the row in the database is always the real copy.
 * NOTIFYs sent while a listener is reconnecting are lost, so a subscriber catches up by polling in
 * `onListen` (called on every (re)subscription) and polls now and then anyway.
 * Publish after the transaction that wrote the row has committed, so the woken side can see it.
 */
import { EventEmitter } from 'node:events'
import type { Database } from './db.ts'

/** Work for an account arrived at a process that may not own it; the payload is the account id. */
export const ACCOUNT_WORK_CHANNEL = 'olchat_account_work'
/** A lease was released; free instances can try to acquire at once. */
export const LEASES_RELEASED_CHANNEL = 'olchat_leases_released'
/** An admin asked to disconnect an account for good; payload: the account id. Its owner acts on it. */
export const ACCOUNT_DISCONNECT_CHANNEL = 'olchat_account_disconnect'
/**
 * A new login of an account was stored; payload: `<account id> <instance id of the sender>`. Its owner
 * restarts the account's actor over the new session.
 */
export const ACCOUNT_RELOGIN_CHANNEL = 'olchat_account_relogin'

export interface Subscription {
  unsubscribe(): Promise<void>
}

export interface Notifier {
  publish(channel: string, payload?: string): Promise<void>
  /**
   * @param options.onListen runs once listening (again after every reconnect): poll for what was missed.
   * @param options.onError receives what `fn` throws (it must not reach the connection's socket handler).
   */
  subscribe(channel: string, fn: (payload: string) => void, options?: SubscribeOptions): Promise<Subscription>
}

export interface SubscribeOptions {
  onListen?: () => void
  onError?: (error: unknown) => void
}

function guarded(fn: (payload: string) => void, onError?: (error: unknown) => void) {
  return (payload: string) => {
    try {
      fn(payload)
    } catch (error) {
      onError?.(error)
    }
  }
}

// One emitter per embedded database, shared by every notifier built on it.
const emitters = new WeakMap<Database['sql'], EventEmitter>()

export function createNotifier(db: Pick<Database, 'sql' | 'kind'>): Notifier {
  return db.kind === 'embedded' ? inProcessNotifier(db.sql) : postgresNotifier(db.sql)
}

function postgresNotifier(sql: Database['sql']): Notifier {
  return {
    async publish(channel, payload = '') {
      await sql.notify(channel, payload)
    },
    async subscribe(channel, fn, options = {}) {
      // postgres.js listens on one dedicated connection and re-listens after it drops.
      const listening = await sql.listen(channel, guarded(fn, options.onError), options.onListen)
      return { unsubscribe: () => listening.unlisten() }
    },
  }
}

function inProcessNotifier(sql: Database['sql']): Notifier {
  let emitter = emitters.get(sql)
  if (!emitter) {
    emitter = new EventEmitter()
    emitter.setMaxListeners(0)
    emitters.set(sql, emitter)
  }
  const events = emitter
  return {
    async publish(channel, payload = '') {
      // Asynchronous like a NOTIFY: a subscriber never runs inside the publisher's call.
      queueMicrotask(() => events.emit(channel, payload))
    },
    async subscribe(channel, fn, options = {}) {
      const listener = guarded(fn, options.onError)
      events.on(channel, listener)
      options.onListen?.()
      return {
        async unsubscribe() {
          events.off(channel, listener)
        },
      }
    },
  }
}
