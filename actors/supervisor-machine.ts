/**
 * @module The process's root actor (`systemId: 'supervisor'`). It owns the long-running background actors of
 * this instance: the partition maintenance, the retention actor (`retention`), and one account actor per
 * account this instance runs (`account-<accountId>`). A crashed account actor is restarted
 * after a capped jittered backoff that grows with its consecutive crashes (reset once a restart has stayed up
 * for `stableMs`). On `shutdown` it stops its children and reaches its final state, which the process waits
 * for before closing the pools.
 *
 * Events: `account.start` (spawn, idempotent) · `account.stop` (disconnect: the actor logs out, clears the
 * account's data and ends) · `account.release` (stop the actor, keep the session: lease lost or handed over)
 * · `shutdown`. Restart timers are delayed self-events with an id per account (`restart-<id>`), so a release
 * or shutdown cancels them.
 */
import { type ActorRefFrom, enqueueActions, setup, stopChild } from 'xstate'
import type { AccountLogin } from '../src/bridge/connector.ts'
import type { AccountId } from '../src/bridge/ids.ts'
import { type AccountMachineInput, accountMachine } from './account-machine.ts'
import { backoffDelay } from './backoff.ts'
import {
  type PartitionMaintenanceInput,
  partitionMaintenanceMachine,
} from './partition-maintenance-machine.ts'
import { type RetentionMachineInput, retentionMachine } from './retention-machine.ts'

/** What starting an account needs; kept so a restart can build a fresh actor (and client) from it. */
export interface AccountStart {
  accountId: AccountId
  /** The stored login, for `createInput` to hand to `MessengerConnector.loadAccount`. */
  login?: AccountLogin
}

export interface RestartOptions {
  /** Ceiling of the first restart delay. */
  baseMs: number
  /** No restart delay grows past this. */
  capMs: number
  /** A restarted actor alive this long has its crash count reset. */
  stableMs: number
  /** In [0, 1): the jitter source. */
  random: () => number
}

export interface SupervisorAccountsInput {
  /**
   * Builds the input of a new account actor: a fresh client (`loadAccount`, no I/O) and the hooks. Called at
   * start and again on every restart; a throw counts as a crash.
   */
  createInput: (start: AccountStart) => AccountMachineInput
  restart?: Partial<RestartOptions>
  /** An account actor crashed (or could not be built) and restarts in `restartInMs`. For logs and metrics. */
  onCrash?: (accountId: AccountId, error: unknown, restartInMs: number) => void
}

export interface SupervisorInput {
  partitions: PartitionMaintenanceInput
  /** Without it the supervisor runs no accounts (and ignores `account.*`). */
  accounts?: SupervisorAccountsInput
  /** The retention actor's round (durable deadlines, PRIVACY R3–R8); without it none runs here. */
  retention?: RetentionMachineInput
}

export const defaultRestartOptions: RestartOptions = {
  baseMs: 1_000,
  capMs: 5 * 60_000,
  stableMs: 10 * 60_000,
  random: Math.random,
}

/** One account this supervisor runs. */
export interface AccountEntry {
  start: AccountStart
  /** The input of the current (or last) actor: its client is closed if the actor crashes. */
  input: AccountMachineInput | null
  status: 'running' | 'restarting'
  /** Consecutive crashes; decides the next restart delay. */
  crashes: number
  /** Restarts over the entry's life. */
  restarts: number
  /** `account.stop` was asked: a restarted actor is told to disconnect again. */
  disconnecting: boolean
}

interface SupervisorContext {
  partitionMaintenance: ActorRefFrom<typeof partitionMaintenanceMachine>
  retention: ActorRefFrom<typeof retentionMachine> | null
  accounts: Record<string, AccountEntry>
  config: (Omit<SupervisorAccountsInput, 'restart'> & { restart: RestartOptions }) | null
}

type SupervisorEvent =
  | { type: 'shutdown' }
  | ({ type: 'account.start' } & AccountStart)
  | { type: 'account.stop'; accountId: AccountId }
  | { type: 'account.release'; accountId: AccountId }
  | { type: 'account.restart'; accountId: AccountId }
  | { type: 'account.stable'; accountId: AccountId }
  | { type: `xstate.error.actor.${string}`; error: unknown }
  | { type: `xstate.done.actor.${string}` }

const CHILD_PREFIX = 'account-'
export const accountActorId = (accountId: string) => `${CHILD_PREFIX}${accountId}`
const restartTimer = (accountId: string) => `restart-${accountId}`
const stableTimer = (accountId: string) => `stable-${accountId}`

/** The account id of an `xstate.error.actor.account-…` / `xstate.done.actor.account-…` event. */
function childAccountId(eventType: string): AccountId | undefined {
  const id = eventType.replace(/^xstate\.(error|done)\.actor\./, '')
  return id.startsWith(CHILD_PREFIX) ? (id.slice(CHILD_PREFIX.length) as AccountId) : undefined
}

function without(accounts: Record<string, AccountEntry>, accountId: string): Record<string, AccountEntry> {
  const { [accountId]: _gone, ...rest } = accounts
  return rest
}

export const supervisorMachine = setup({
  types: {
    input: {} as SupervisorInput,
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
  },
  // `account` is the real machine; tests swap it with `supervisorMachine.provide({ actors: { account } })`.
  actors: {
    partitionMaintenance: partitionMaintenanceMachine,
    retention: retentionMachine,
    account: accountMachine,
  },
  actions: {
    /**
     * Spawns (or respawns) the actor of `accountId` from its entry; a failure to build its input is handled
     * like a crash. Shared by start, restart and stop-while-restarting.
     */
    launch: enqueueActions(
      ({ context, enqueue }, { accountId, entry }: { accountId: AccountId; entry: AccountEntry }) => {
        const config = context.config!
        let input: AccountMachineInput
        try {
          input = config.createInput(entry.start)
        } catch (error) {
          const crashes = entry.crashes + 1
          const delay = backoffDelay(crashes, config.restart, config.restart.random)
          enqueue.assign({
            accounts: {
              ...context.accounts,
              [accountId]: { ...entry, input: null, status: 'restarting', crashes },
            },
          })
          enqueue.raise({ type: 'account.restart', accountId }, { id: restartTimer(accountId), delay })
          enqueue(() => config.onCrash?.(accountId, error, delay))
          return
        }
        enqueue.assign({
          accounts: { ...context.accounts, [accountId]: { ...entry, input, status: 'running' } },
        })
        enqueue.spawnChild('account', { id: accountActorId(accountId), input })
        if (entry.disconnecting) enqueue.sendTo(accountActorId(accountId), { type: 'disconnect' })
        if (entry.crashes > 0) {
          enqueue.raise(
            { type: 'account.stable', accountId },
            { id: stableTimer(accountId), delay: config.restart.stableMs },
          )
        }
      },
    ),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input, spawn }) => ({
    partitionMaintenance: spawn('partitionMaintenance', {
      id: 'partition-maintenance',
      systemId: 'partition-maintenance',
      input: input.partitions,
    }),
    retention: input.retention
      ? spawn('retention', { id: 'retention', systemId: 'retention', input: input.retention })
      : null,
    accounts: {},
    config: input.accounts
      ? {
          ...input.accounts,
          restart: { ...defaultRestartOptions, ...input.accounts.restart },
        }
      : null,
  }),
  initial: 'running',
  states: {
    running: {
      on: {
        'account.start': {
          guard: ({ context, event }) => context.config !== null && !context.accounts[event.accountId],
          actions: {
            type: 'launch',
            params: ({ event }) => ({
              accountId: event.accountId,
              entry: {
                start: { accountId: event.accountId, login: event.login },
                input: null,
                status: 'running',
                crashes: 0,
                restarts: 0,
                disconnecting: false,
              },
            }),
          },
        },
        'account.stop': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const entry = context.accounts[event.accountId]
            if (!entry || entry.disconnecting) return
            const stopping = { ...entry, disconnecting: true }
            if (entry.status === 'running') {
              enqueue.assign({ accounts: { ...context.accounts, [event.accountId]: stopping } })
              enqueue.sendTo(accountActorId(event.accountId), { type: 'disconnect' })
            } else {
              // Waiting for a restart: do it now, so the disconnect (and its cleanup) is not delayed.
              enqueue.cancel(restartTimer(event.accountId))
              enqueue({ type: 'launch', params: { accountId: event.accountId, entry: stopping } })
            }
          }),
        },
        'account.release': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            if (!context.accounts[event.accountId]) return
            enqueue.cancel(restartTimer(event.accountId))
            enqueue.cancel(stableTimer(event.accountId))
            enqueue.stopChild(accountActorId(event.accountId))
            enqueue.assign({ accounts: without(context.accounts, event.accountId) })
          }),
        },
        'account.restart': {
          guard: ({ context, event }) => context.accounts[event.accountId]?.status === 'restarting',
          actions: {
            type: 'launch',
            params: ({ context, event }) => {
              const entry = context.accounts[event.accountId]!
              return { accountId: event.accountId, entry: { ...entry, restarts: entry.restarts + 1 } }
            },
          },
        },
        'account.stable': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const entry = context.accounts[event.accountId]
            if (entry?.status !== 'running') return
            enqueue.assign({ accounts: { ...context.accounts, [event.accountId]: { ...entry, crashes: 0 } } })
          }),
        },
        'xstate.error.actor.*': {
          guard: ({ context, event }) => {
            const accountId = childAccountId(event.type)
            return accountId !== undefined && context.accounts[accountId] !== undefined
          },
          actions: enqueueActions(({ context, event, enqueue }) => {
            const accountId = childAccountId(event.type)!
            const entry = context.accounts[accountId]!
            const config = context.config!
            const crashes = entry.crashes + 1
            const delay = backoffDelay(crashes, config.restart, config.restart.random)
            const error = 'error' in event ? event.error : undefined
            enqueue.cancel(stableTimer(accountId))
            enqueue.stopChild(accountActorId(accountId))
            enqueue.assign({
              accounts: { ...context.accounts, [accountId]: { ...entry, status: 'restarting', crashes } },
            })
            enqueue.raise({ type: 'account.restart', accountId }, { id: restartTimer(accountId), delay })
            enqueue(() => {
              // A crashed machine does not stop what it invoked: close its client here, so the restart
              // never runs a second live session of the account.
              entry.input?.client.disconnect().catch(() => {})
              config.onCrash?.(accountId, error, delay)
            })
          }),
        },
        'xstate.done.actor.*': {
          guard: ({ context, event }) => {
            const accountId = childAccountId(event.type)
            return accountId !== undefined && context.accounts[accountId] !== undefined
          },
          actions: enqueueActions(({ context, event, enqueue }) => {
            const accountId = childAccountId(event.type)!
            enqueue.cancel(stableTimer(accountId))
            // A finished child stays listed among the children until stopped.
            enqueue.stopChild(accountActorId(accountId))
            enqueue.assign({ accounts: without(context.accounts, accountId) })
          }),
        },
        shutdown: {
          target: 'stopped',
          actions: [
            enqueueActions(({ context, enqueue }) => {
              for (const accountId of Object.keys(context.accounts)) {
                enqueue.cancel(restartTimer(accountId))
                enqueue.cancel(stableTimer(accountId))
                enqueue.stopChild(accountActorId(accountId))
              }
              enqueue.assign({ accounts: {} })
            }),
            stopChild(({ context }) => context.partitionMaintenance),
            enqueueActions(({ context, enqueue }) => {
              if (context.retention) enqueue.stopChild(context.retention)
            }),
          ],
        },
      },
    },
    stopped: { type: 'final' },
  },
})
