/**
 * @module The account actor: one per connected messenger account. It owns the account's
 * `MessengerClient`, keeps it connected (capped jittered backoff after a loss, a pause after a flood wait, a
 * stop when the login is gone), reports every health change, raises one alert when the account stays down
 * past a debounce, forwards the client's remote events, and on `disconnect` logs out and clears the
 * account's data (PRIVACY R1, R2, D2).
 *
 * States (the health they report in brackets):
 * `active` (parallel) = `connection` { `connecting` [connecting] · `online` [online] · `reconnecting`
 * [reconnecting] · `needsLogin` [needs_login] · `floodWait` [flood_wait] } ‖ `watch` { `up` · `down` ·
 * `alerted` } → `disconnecting` [disconnecting] { `loggingOut` → `closing` → `clearing`
 * (⇄ `retryingCleanup`) } → `disconnected` [disconnected] (final).
 *
 * The client's connection lives exactly as long as the actor: stopping the actor (shutdown, lease lost)
 * closes it, keeping the session; only `disconnect` ends the session.
 */
import { assign, enqueueActions, fromCallback, fromPromise, raise, setup } from 'xstate'
import type { MessengerClient } from '../src/bridge/client.ts'
import { dispositionOf, FloodWaitError } from '../src/bridge/errors.ts'
import type { AccountHealth } from '../src/bridge/health.ts'
import type { AccountId } from '../src/bridge/ids.ts'
import type { ConnectionState, RemoteEvent } from '../src/bridge/remote-event.ts'
import { backoffDelay } from './backoff.ts'

/** A change of health, as stored and counted. */
export interface HealthChange {
  accountId: AccountId
  health: AccountHealth
  /** Null for the first report of this actor. */
  previous: AccountHealth | null
  /** `options.now()` at the change. */
  at: number
}

/** Raised once when the account has been out of `online` longer than the debounce; cleared once after. */
export type AccountAlert =
  | { type: 'raised'; accountId: AccountId; health: AccountHealth; downSince: number; at: number }
  | {
      type: 'cleared'
      accountId: AccountId
      reason: 'recovered' | 'disconnected'
      downSince: number
      at: number
    }

/** Remote events other than connection states (those drive the machine itself). */
export type ForwardedRemoteEvent = Exclude<RemoteEvent, { type: 'connection' }>

export interface AccountHooks {
  /**
   * Stores the health and updates metrics. Called once per change, in the order of the changes; an async
   * implementation must apply them in that order. A failure goes to `onError`; the actor carries on.
   */
  setHealth(change: HealthChange): void | Promise<void>
  /** Receives alert events (the panel and notifications). Must not throw. */
  onAlert(alert: AccountAlert): void
  /** Receives the client's remote events while the account is live; the relay plugs in here. */
  onRemoteEvent?(event: ForwardedRemoteEvent): void
  /**
   * Deletes what the account leaves behind: contact cache, avatars, session, pending files (R1, R2, D2).
   * Idempotent; retried until it succeeds.
   */
  cleanup(accountId: AccountId): Promise<void>
  /** Failures the actor survives (a hook that threw, a failed remote logout), for logs. */
  onError?(error: unknown, during: string): void
}

export interface AccountOptions {
  /** Ceiling of the first reconnect delay. */
  backoffBaseMs: number
  /** No reconnect delay grows past this. */
  backoffCapMs: number
  /** Out of `online` this long raises an alert. */
  alertDebounceMs: number
  /** A `connect()` with no outcome reported by then counts as a transient failure. */
  connectTimeoutMs: number
  /** Gives up on the remote logout after this and clears the local data anyway. */
  logoutTimeoutMs: number
  /** Pause before a failed cleanup is tried again. */
  cleanupRetryMs: number
  /** In [0, 1): the jitter source. */
  random: () => number
  /** Epoch ms: timestamps of health changes and alerts. */
  now: () => number
}

export const defaultAccountOptions: AccountOptions = {
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
  alertDebounceMs: 3 * 60_000,
  connectTimeoutMs: 60_000,
  logoutTimeoutMs: 15_000,
  cleanupRetryMs: 30_000,
  random: Math.random,
  now: Date.now,
}

export interface AccountMachineInput {
  accountId: AccountId
  client: MessengerClient
  hooks: AccountHooks
  options?: Partial<AccountOptions>
}

export interface AccountContext {
  accountId: AccountId
  client: MessengerClient
  hooks: AccountHooks
  options: AccountOptions
  /** The last health reported. */
  health: AccountHealth | null
  /** Reconnect attempts since the account was last online. */
  attempt: number
  /** Delay of the current reconnect wait. */
  retryDelayMs: number
  /** Length of the current flood wait. */
  floodWaitMs: number
  /** When the account last left `online` (or the actor started). */
  downSince: number
  alerted: boolean
  cleanupFailures: number
}

export type AccountEvent =
  /** Log out, clear the account's data, end. */
  | { type: 'disconnect' }
  /** Try again with the stored login (after `needs_login`). */
  | { type: 'relogin' }
  /** A new login of this account completed; connect with it. */
  | { type: 'loginCompleted' }
  /**
   * A connection state from the client (through `clientLink`). Others may send it too: the relay, on a
   * `FloodWaitError` from `send`, sends `flood-wait` so the whole account pauses.
   */
  | { type: 'client.connection'; state: ConnectionState; floodWaitSeconds?: number; error?: unknown }
  | { type: 'client.event'; event: ForwardedRemoteEvent }
  /** Internal: the connection region tells the watch region. */
  | { type: 'health.online' }
  | { type: 'health.down' }

function report(context: AccountContext, error: unknown, during: string) {
  try {
    context.hooks.onError?.(error, during)
  } catch {
    // The error reporter itself failed; nothing is left to tell.
  }
}

/** Runs a hook so that neither a throw nor a rejection can crash the actor. */
function callHook(context: AccountContext, during: string, hook: () => unknown) {
  try {
    const result = hook()
    if (result instanceof Promise) result.catch((error: unknown) => report(context, error, during))
  } catch (error) {
    report(context, error, during)
  }
}

const isConnection =
  (state: ConnectionState) =>
  ({ event }: { event: AccountEvent }) =>
    event.type === 'client.connection' && event.state === state

const floodWaitMs = (seconds: number | undefined) => Math.max(1, Math.ceil(seconds ?? 1)) * 1000

export const accountMachine = setup({
  types: {
    input: {} as AccountMachineInput,
    context: {} as AccountContext,
    events: {} as AccountEvent,
  },
  actors: {
    /** Subscribes to the client for the actor's whole life; closes the connection when the actor ends. */
    clientLink: fromCallback<AccountEvent, { client: MessengerClient; onError: (error: unknown) => void }>(
      ({ sendBack, input }) => {
        const unsubscribe = input.client.onEvent((event) => {
          if (event.type === 'connection') {
            const { state, floodWaitSeconds, error } = event
            sendBack({ type: 'client.connection', state, floodWaitSeconds, error })
          } else {
            sendBack({ type: 'client.event', event })
          }
        })
        return () => {
          unsubscribe()
          input.client.disconnect().catch(input.onError)
        }
      },
    ),
    connect: fromPromise<void, { client: MessengerClient }>(({ input }) => input.client.connect()),
    closeConnection: fromPromise<void, { client: MessengerClient }>(({ input }) => input.client.disconnect()),
    logoutRemote: fromPromise<void, { client: MessengerClient }>(({ input }) => input.client.logoutRemote()),
    cleanup: fromPromise<void, { accountId: AccountId; hooks: AccountHooks }>(({ input }) =>
      input.hooks.cleanup(input.accountId),
    ),
  },
  actions: {
    reportHealth: enqueueActions(({ context, enqueue }, { health }: { health: AccountHealth }) => {
      if (context.health === health) return
      const change: HealthChange = {
        accountId: context.accountId,
        health,
        previous: context.health,
        at: context.options.now(),
      }
      enqueue.assign({ health })
      enqueue(() => callHook(context, 'setHealth', () => context.hooks.setHealth(change)))
    }),
    forwardRemoteEvent: ({ context, event }) => {
      if (event.type !== 'client.event') return
      callHook(context, 'onRemoteEvent', () => context.hooks.onRemoteEvent?.(event.event))
    },
    scheduleReconnect: assign(({ context }) => {
      const attempt = context.attempt + 1
      const { backoffBaseMs: baseMs, backoffCapMs: capMs, random } = context.options
      return { attempt, retryDelayMs: backoffDelay(attempt, { baseMs, capMs }, random) }
    }),
    resetAttempts: assign({ attempt: 0 }),
    startFloodWait: assign({
      floodWaitMs: ({ event }) =>
        event.type === 'client.connection' ? floodWaitMs(event.floodWaitSeconds) : 1000,
    }),
    markDown: assign({ downSince: ({ context }) => context.options.now() }),
    raiseAlert: enqueueActions(({ context, enqueue }) => {
      const alert: AccountAlert = {
        type: 'raised',
        accountId: context.accountId,
        health: context.health ?? 'connecting',
        downSince: context.downSince,
        at: context.options.now(),
      }
      enqueue.assign({ alerted: true })
      enqueue(() => callHook(context, 'onAlert', () => context.hooks.onAlert(alert)))
    }),
    clearAlert: enqueueActions(
      ({ context, enqueue }, { reason }: { reason: 'recovered' | 'disconnected' }) => {
        if (!context.alerted) return
        const alert: AccountAlert = {
          type: 'cleared',
          accountId: context.accountId,
          reason,
          downSince: context.downSince,
          at: context.options.now(),
        }
        enqueue.assign({ alerted: false })
        enqueue(() => callHook(context, 'onAlert', () => context.hooks.onAlert(alert)))
      },
    ),
  },
  guards: {
    connected: isConnection('connected'),
    transient: isConnection('transient-disconnect'),
    badCredentials: isConnection('bad-credentials'),
    floodWait: isConnection('flood-wait'),
  },
  delays: {
    reconnect: ({ context }) => context.retryDelayMs,
    floodWait: ({ context }) => context.floodWaitMs,
    connectTimeout: ({ context }) => context.options.connectTimeoutMs,
    alertDebounce: ({ context }) => context.options.alertDebounceMs,
    logoutTimeout: ({ context }) => context.options.logoutTimeoutMs,
    cleanupRetry: ({ context }) => context.options.cleanupRetryMs,
  },
}).createMachine({
  id: 'account',
  context: ({ input }) => {
    const options = { ...defaultAccountOptions, ...input.options }
    return {
      accountId: input.accountId,
      client: input.client,
      hooks: input.hooks,
      options,
      health: null,
      attempt: 0,
      retryDelayMs: 0,
      floodWaitMs: 0,
      downSince: options.now(),
      alerted: false,
      cleanupFailures: 0,
    }
  },
  invoke: {
    src: 'clientLink',
    input: ({ context }) => ({
      client: context.client,
      onError: (error: unknown) => report(context, error, 'disconnect'),
    }),
  },
  initial: 'active',
  states: {
    active: {
      type: 'parallel',
      on: {
        disconnect: {
          target: 'disconnecting',
          actions: { type: 'clearAlert', params: { reason: 'disconnected' } },
        },
        'client.event': { actions: 'forwardRemoteEvent' },
      },
      states: {
        connection: {
          initial: 'connecting',
          states: {
            connecting: {
              entry: [
                { type: 'reportHealth', params: { health: 'connecting' } },
                raise({ type: 'health.down' }),
              ],
              invoke: {
                src: 'connect',
                input: ({ context }) => ({ client: context.client }),
                // connect() must not reject (its outcome comes as an event); if one does all the same, its
                // error decides where to go.
                onError: [
                  {
                    guard: ({ event }) => dispositionOf(event.error) === 'needs-login',
                    target: 'needsLogin',
                  },
                  {
                    guard: ({ event }) => event.error instanceof FloodWaitError,
                    target: 'floodWait',
                    actions: assign({
                      floodWaitMs: ({ event }) => floodWaitMs((event.error as FloodWaitError).seconds),
                    }),
                  },
                  { target: 'reconnecting' },
                ],
              },
              after: { connectTimeout: 'reconnecting' },
              on: {
                'client.connection': [
                  { guard: 'connected', target: 'online' },
                  { guard: 'badCredentials', target: 'needsLogin' },
                  { guard: 'floodWait', target: 'floodWait', actions: 'startFloodWait' },
                  { guard: 'transient', target: 'reconnecting' },
                ],
              },
            },
            online: {
              entry: [
                { type: 'reportHealth', params: { health: 'online' } },
                'resetAttempts',
                raise({ type: 'health.online' }),
              ],
              on: {
                'client.connection': [
                  { guard: 'badCredentials', target: 'needsLogin' },
                  { guard: 'floodWait', target: 'floodWait', actions: 'startFloodWait' },
                  { guard: 'transient', target: 'reconnecting' },
                ],
              },
            },
            reconnecting: {
              entry: [
                'scheduleReconnect',
                { type: 'reportHealth', params: { health: 'reconnecting' } },
                raise({ type: 'health.down' }),
              ],
              after: { reconnect: 'connecting' },
              on: {
                // The client may get back on its own while we wait.
                'client.connection': [
                  { guard: 'connected', target: 'online' },
                  { guard: 'badCredentials', target: 'needsLogin' },
                  { guard: 'floodWait', target: 'floodWait', actions: 'startFloodWait' },
                ],
              },
            },
            needsLogin: {
              entry: [
                { type: 'reportHealth', params: { health: 'needs_login' } },
                raise({ type: 'health.down' }),
              ],
              // Stop the client's own retrying: a revoked session only gets worse with repeats.
              invoke: {
                src: 'closeConnection',
                input: ({ context }) => ({ client: context.client }),
                onError: { actions: ({ context, event }) => report(context, event.error, 'disconnect') },
              },
              on: {
                relogin: { target: 'connecting', actions: 'resetAttempts' },
                loginCompleted: { target: 'connecting', actions: 'resetAttempts' },
              },
            },
            floodWait: {
              entry: [
                { type: 'reportHealth', params: { health: 'flood_wait' } },
                raise({ type: 'health.down' }),
              ],
              after: { floodWait: 'connecting' },
              on: {
                'client.connection': [
                  { guard: 'badCredentials', target: 'needsLogin' },
                  // A longer wait replaces the current one.
                  { guard: 'floodWait', target: 'floodWait', reenter: true, actions: 'startFloodWait' },
                ],
              },
            },
          },
        },
        watch: {
          initial: 'down',
          states: {
            up: { on: { 'health.down': { target: 'down', actions: 'markDown' } } },
            down: {
              after: { alertDebounce: 'alerted' },
              on: { 'health.online': 'up' },
            },
            alerted: {
              entry: 'raiseAlert',
              on: {
                'health.online': {
                  target: 'up',
                  actions: { type: 'clearAlert', params: { reason: 'recovered' } },
                },
              },
            },
          },
        },
      },
    },
    disconnecting: {
      entry: { type: 'reportHealth', params: { health: 'disconnecting' } },
      initial: 'loggingOut',
      states: {
        loggingOut: {
          invoke: {
            src: 'logoutRemote',
            input: ({ context }) => ({ client: context.client }),
            onDone: 'closing',
            onError: {
              target: 'closing',
              actions: ({ context, event }) => report(context, event.error, 'logoutRemote'),
            },
          },
          after: { logoutTimeout: 'closing' },
        },
        closing: {
          invoke: {
            src: 'closeConnection',
            input: ({ context }) => ({ client: context.client }),
            onDone: 'clearing',
            onError: {
              target: 'clearing',
              actions: ({ context, event }) => report(context, event.error, 'disconnect'),
            },
          },
        },
        clearing: {
          invoke: {
            src: 'cleanup',
            input: ({ context }) => ({ accountId: context.accountId, hooks: context.hooks }),
            onDone: '#account.disconnected',
            onError: {
              target: 'retryingCleanup',
              actions: [
                assign({ cleanupFailures: ({ context }) => context.cleanupFailures + 1 }),
                ({ context, event }) => report(context, event.error, 'cleanup'),
              ],
            },
          },
        },
        retryingCleanup: { after: { cleanupRetry: 'clearing' } },
      },
    },
    disconnected: {
      type: 'final',
      entry: { type: 'reportHealth', params: { health: 'disconnected' } },
    },
  },
})
