import { describe, expect, test } from 'bun:test'
import { createActor, fromPromise, SimulatedClock, waitFor } from 'xstate'
import {
  type AccountAlert,
  type AccountHooks,
  type AccountOptions,
  accountMachine,
  type ForwardedRemoteEvent,
  type HealthChange,
} from '../../actors/account-machine.ts'
import type { MessengerClient } from '../../src/bridge/client.ts'
import { NeedsLoginError } from '../../src/bridge/errors.ts'
import { canChangeHealth } from '../../src/bridge/health.ts'
import {
  type AccountId,
  toAccountId,
  toRemoteChatId,
  toRemoteMessageId,
  toRemoteUserId,
} from '../../src/bridge/ids.ts'
import { FakeClient } from './fake-client.ts'

const accountId = toAccountId('0b9e7c7e-1f7e-4a53-9d3e-6a1f0f4c2d10')
const MINUTE = 60_000

/** Lets promise callbacks (connect, logout, cleanup) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

function start({
  options,
  hooks,
  machine = accountMachine,
}: {
  options?: Partial<AccountOptions>
  hooks?: Partial<AccountHooks>
  machine?: typeof accountMachine
} = {}) {
  const clock = new SimulatedClock()
  const client = new FakeClient(accountId)
  const health: HealthChange[] = []
  const alerts: AccountAlert[] = []
  const events: ForwardedRemoteEvent[] = []
  const errors: string[] = []
  const cleaned: string[] = []
  const actor = createActor(machine, {
    clock,
    input: {
      accountId,
      client,
      hooks: {
        setHealth: (change) => void health.push(change),
        onAlert: (alert) => void alerts.push(alert),
        onRemoteEvent: (event) => void events.push(event),
        cleanup: async (id) => void cleaned.push(id),
        onError: (_error, during) => void errors.push(during),
        ...hooks,
      },
      options: { now: () => clock.now(), random: () => 0.5, ...options },
    },
  })
  const healths = () => health.map((change) => change.health)
  const connection = () => {
    const value = actor.getSnapshot().value
    return typeof value === 'object' && 'active' in value
      ? (value.active as { connection: string }).connection
      : String(value)
  }
  return { clock, client, health, healths, alerts, events, errors, cleaned, actor, connection }
}

describe('account machine: connecting', () => {
  test('connects, goes online and reports each health change once, in order', async () => {
    const { actor, health, connection } = start()
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    expect(connection()).toBe('online')
    expect(health).toEqual([
      { accountId, health: 'connecting', previous: null, at: 0 },
      { accountId, health: 'online', previous: 'connecting', at: 0 },
    ])
    actor.stop()
  })

  test('a connect() with no outcome times out into reconnecting', async () => {
    const { actor, client, clock, connection } = start({ options: { connectTimeoutMs: 10_000 } })
    client.outcomes.push('silent')
    actor.start()
    await settle()
    clock.increment(9_999)
    expect(connection()).toBe('connecting')
    clock.increment(1)
    expect(connection()).toBe('reconnecting')
    actor.stop()
  })

  test('a connect() that rejects despite the contract is classified by its error', async () => {
    const machine = accountMachine.provide({
      actors: {
        connect: fromPromise<void, { client: MessengerClient }>(async () => {
          throw new NeedsLoginError('revoked')
        }),
      },
    })
    const { actor, healths } = start({ machine })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'needsLogin' } }))
    expect(healths()).toEqual(['connecting', 'needs_login'])
    actor.stop()
  })
})

describe('account machine: reconnect backoff', () => {
  test('grows exponentially, is capped, and waits exactly the computed delay', async () => {
    const { actor, client, clock } = start({
      options: { backoffBaseMs: 1_000, backoffCapMs: 8_000, random: () => 0.5 },
    })
    for (let i = 0; i < 6; i++) client.outcomes.push({ state: 'transient-disconnect' })
    actor.start()
    const delays: number[] = []
    for (let i = 0; i < 6; i++) {
      await waitFor(actor, (s) => s.matches({ active: { connection: 'reconnecting' } }))
      const delay = actor.getSnapshot().context.retryDelayMs
      delays.push(delay)
      clock.increment(delay - 1)
      expect(client.count('connect')).toBe(i + 1)
      clock.increment(1)
      expect(client.count('connect')).toBe(i + 2)
      await settle()
    }
    // Equal jitter at r = 0.5: three quarters of the ceiling 1, 2, 4, 8, 8, 8 s.
    expect(delays).toEqual([750, 1_500, 3_000, 6_000, 6_000, 6_000])
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    expect(client.count('connect')).toBe(7)
    expect(actor.getSnapshot().context.attempt).toBe(0)
    actor.stop()
  })

  test('jitter stays within [ceiling / 2, ceiling] for any random value', async () => {
    const randoms = [0, 0.999_999, 0.25, 0.75, 0, 0.999_999, 0.5, 0.1]
    let i = 0
    const { actor, client, clock } = start({
      options: { backoffBaseMs: 1_000, backoffCapMs: 16_000, random: () => randoms[i++ % randoms.length]! },
    })
    for (let n = 0; n < randoms.length; n++) client.outcomes.push({ state: 'transient-disconnect' })
    actor.start()
    for (let attempt = 1; attempt <= randoms.length; attempt++) {
      await waitFor(actor, (s) => s.matches({ active: { connection: 'reconnecting' } }))
      const delay = actor.getSnapshot().context.retryDelayMs
      const ceiling = Math.min(16_000, 1_000 * 2 ** (attempt - 1))
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
      expect(delay).toBeLessThanOrEqual(ceiling)
      clock.increment(delay)
      await settle()
    }
    actor.stop()
  })

  test('a connection lost while online reconnects and the attempt count restarts after success', async () => {
    const { actor, client, clock, healths } = start({ options: { backoffBaseMs: 1_000 } })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    client.report('transient-disconnect')
    expect(actor.getSnapshot().context).toMatchObject({ attempt: 1, retryDelayMs: 750 })
    clock.increment(750)
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    // The client may come back on its own before the wait is over.
    client.report('transient-disconnect')
    client.report('connected')
    expect(healths()).toEqual([
      'connecting',
      'online',
      'reconnecting',
      'connecting',
      'online',
      'reconnecting',
      'online',
    ])
    expect(actor.getSnapshot().context.attempt).toBe(0)
    actor.stop()
  })
})

describe('account machine: alert debounce', () => {
  test('down for 3 minutes raises exactly one alert, recovery clears it once', async () => {
    const { actor, client, clock, alerts } = start({ options: { backoffCapMs: 20_000 } })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    clock.increment(5 * MINUTE)
    for (let i = 0; i < 100; i++) client.outcomes.push({ state: 'transient-disconnect' })
    client.report('transient-disconnect')
    // Many reconnect cycles in the next 5 minutes; the debounce counts from the first loss.
    for (let t = 0; t < 5 * MINUTE; t += 1_000) {
      clock.increment(1_000)
      await settle()
      if (clock.now() - 5 * MINUTE < 3 * MINUTE) expect(alerts).toHaveLength(0)
    }
    expect(alerts).toEqual([
      { type: 'raised', accountId, health: expect.any(String), downSince: 5 * MINUTE, at: 8 * MINUTE },
    ])
    client.outcomes.length = 0
    clock.increment(20_000)
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    expect(alerts).toHaveLength(2)
    expect(alerts[1]).toMatchObject({ type: 'cleared', reason: 'recovered', downSince: 5 * MINUTE })
    actor.stop()
  })

  test('a 2-minute blip raises no alert, and the debounce restarts with the next loss', async () => {
    const { actor, client, clock, alerts } = start({ options: { connectTimeoutMs: 10 * MINUTE } })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    client.outcomes.push('silent', 'silent')
    client.report('transient-disconnect')
    clock.increment(2 * MINUTE)
    client.report('connected')
    expect(actor.getSnapshot().matches({ active: { connection: 'online', watch: 'up' } })).toBe(true)
    clock.increment(10 * MINUTE)
    expect(alerts).toHaveLength(0)
    client.report('transient-disconnect')
    clock.increment(2 * MINUTE)
    client.report('connected')
    clock.increment(10 * MINUTE)
    expect(alerts).toHaveLength(0)
    actor.stop()
  })

  test('an account that never comes online alerts 3 minutes after start', async () => {
    const { actor, client, clock, alerts } = start()
    client.outcomes.push({ state: 'bad-credentials' })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'needsLogin' } }))
    clock.increment(3 * MINUTE - 1)
    expect(alerts).toHaveLength(0)
    clock.increment(1)
    expect(alerts).toEqual([
      { type: 'raised', accountId, health: 'needs_login', downSince: 0, at: 3 * MINUTE },
    ])
    clock.increment(60 * MINUTE)
    expect(alerts).toHaveLength(1)
    actor.stop()
  })
})

describe('account machine: flood wait and needs-login', () => {
  test('FLOOD_WAIT_n waits n seconds, then connects again', async () => {
    const { actor, client, clock, connection, healths } = start()
    client.outcomes.push({ state: 'flood-wait', floodWaitSeconds: 30 })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'floodWait' } }))
    expect(client.count('connect')).toBe(1)
    clock.increment(29_999)
    expect(connection()).toBe('floodWait')
    expect(client.count('connect')).toBe(1)
    clock.increment(1)
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    expect(client.count('connect')).toBe(2)
    expect(healths()).toEqual(['connecting', 'flood_wait', 'connecting', 'online'])
    actor.stop()
  })

  test('a flood wait reported while online pauses the account; a longer one replaces it', async () => {
    const { actor, client, clock, connection, healths } = start()
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    client.report('flood-wait', 10)
    clock.increment(5_000)
    client.report('flood-wait', 20)
    clock.increment(19_999)
    expect(connection()).toBe('floodWait')
    clock.increment(1)
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    expect(healths()).toEqual(['connecting', 'online', 'flood_wait', 'connecting', 'online'])
    actor.stop()
  })

  test('bad credentials stop reconnecting until a login completes', async () => {
    const { actor, client, clock, healths } = start()
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    client.report('bad-credentials')
    await settle()
    expect(client.count('disconnect')).toBe(1)
    clock.increment(24 * 60 * MINUTE)
    await settle()
    expect(client.count('connect')).toBe(1)
    expect(actor.getSnapshot().matches({ active: { connection: 'needsLogin' } })).toBe(true)
    // Connection reports are ignored while waiting for a login.
    client.report('transient-disconnect')
    expect(actor.getSnapshot().matches({ active: { connection: 'needsLogin' } })).toBe(true)
    actor.send({ type: 'loginCompleted' })
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    expect(client.count('connect')).toBe(2)
    expect(healths()).toEqual(['connecting', 'online', 'needs_login', 'connecting', 'online'])
    actor.stop()
  })

  test('relogin also leaves needs-login', async () => {
    const { actor, client } = start()
    client.outcomes.push({ state: 'bad-credentials' })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'needsLogin' } }))
    actor.send({ type: 'relogin' })
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    actor.stop()
  })
})

describe('account machine: disconnect', () => {
  test('logs out remotely, closes, runs the cleanup actor and ends disconnected', async () => {
    const cleanupRuns: string[] = []
    const machine = accountMachine.provide({
      actors: {
        cleanup: fromPromise<void, { accountId: AccountId; hooks: AccountHooks }>(async ({ input }) => {
          cleanupRuns.push(input.accountId)
        }),
      },
    })
    const { actor, client, healths, listenersGone } = {
      ...start({ machine }),
      listenersGone: () => client.listeners.size === 0,
    }
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    actor.send({ type: 'disconnect' })
    await waitFor(actor, (s) => s.status === 'done')
    expect(actor.getSnapshot().value).toBe('disconnected')
    expect(cleanupRuns).toEqual([accountId])
    expect(client.calls.slice(0, 3)).toEqual(['connect', 'logoutRemote', 'disconnect'])
    expect(healths()).toEqual(['connecting', 'online', 'disconnecting', 'disconnected'])
    expect(listenersGone()).toBe(true)
  })

  test('a failed remote logout still clears the local data', async () => {
    const { actor, client, cleaned, errors } = start()
    client.logoutError = new Error('AUTH_KEY_UNREGISTERED')
    client.outcomes.push({ state: 'bad-credentials' })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'needsLogin' } }))
    actor.send({ type: 'disconnect' })
    await waitFor(actor, (s) => s.status === 'done')
    expect(cleaned).toEqual([accountId])
    expect(errors).toContain('logoutRemote')
  })

  test('a hanging remote logout is abandoned after the timeout', async () => {
    const machine = accountMachine.provide({
      actors: { logoutRemote: fromPromise(() => new Promise(() => {})) },
    })
    const { actor, clock, cleaned } = start({ machine, options: { logoutTimeoutMs: 15_000 } })
    actor.start()
    actor.send({ type: 'disconnect' })
    clock.increment(14_999)
    await settle()
    expect(actor.getSnapshot().matches({ disconnecting: 'loggingOut' })).toBe(true)
    clock.increment(1)
    await waitFor(actor, (s) => s.status === 'done')
    expect(cleaned).toEqual([accountId])
  })

  test('a failed cleanup is retried until it succeeds, staying disconnecting meanwhile', async () => {
    let failures = 2
    const { actor, clock, healths } = start({
      options: { cleanupRetryMs: 30_000 },
      hooks: {
        cleanup: async () => {
          if (failures-- > 0) throw new Error('database away')
        },
      },
    })
    actor.start()
    actor.send({ type: 'disconnect' })
    await waitFor(actor, (s) => s.matches({ disconnecting: 'retryingCleanup' }))
    clock.increment(30_000)
    await waitFor(
      actor,
      (s) => s.matches({ disconnecting: 'retryingCleanup' }) && s.context.cleanupFailures === 2,
    )
    expect(healths().at(-1)).toBe('disconnecting')
    clock.increment(30_000)
    await waitFor(actor, (s) => s.status === 'done')
    expect(healths().slice(-2)).toEqual(['disconnecting', 'disconnected'])
  })

  test('disconnecting an alerted account clears its alert', async () => {
    const { actor, client, clock, alerts } = start()
    client.outcomes.push({ state: 'bad-credentials' })
    actor.start()
    clock.increment(3 * MINUTE)
    await settle()
    actor.send({ type: 'disconnect' })
    await waitFor(actor, (s) => s.status === 'done')
    expect(alerts.map((a) => a.type)).toEqual(['raised', 'cleared'])
    expect(alerts[1]).toMatchObject({ reason: 'disconnected' })
  })
})

describe('account machine: remote events and lifetime', () => {
  const message = (): ForwardedRemoteEvent => ({
    type: 'message',
    accountId,
    chat: { accountId, chatId: toRemoteChatId('chat-1') },
    messageId: toRemoteMessageId('m-1'),
    sender: { userId: toRemoteUserId('u-1'), fromMe: false },
    text: 'hello',
    files: [],
    timestamp: new Date(0),
  })

  test('forwards remote events to onRemoteEvent, keeps connection states to itself', async () => {
    const { actor, client, events } = start()
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    client.emit(message())
    client.report('connected')
    expect(events).toEqual([message()])
    actor.stop()
  })

  test('a throwing hook does not crash the actor', async () => {
    const { actor, client, errors } = start({
      hooks: {
        setHealth: () => {
          throw new Error('store away')
        },
        onRemoteEvent: () => {
          throw new Error('relay away')
        },
      },
    })
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    client.emit(message())
    expect(actor.getSnapshot().status).toBe('active')
    expect(errors).toEqual(['setHealth', 'setHealth', 'onRemoteEvent'])
    actor.stop()
  })

  test('stopping the actor unsubscribes and closes the connection without logging out', async () => {
    const { actor, client, cleaned } = start()
    actor.start()
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    expect(client.listeners.size).toBe(1)
    actor.stop()
    await settle()
    expect(client.listeners.size).toBe(0)
    expect(client.calls).toEqual(['connect', 'disconnect'])
    expect(cleaned).toEqual([])
  })

  test('every reported health change is one the vocabulary allows', async () => {
    const { actor, client, clock, health } = start()
    client.outcomes.push(
      { state: 'transient-disconnect' },
      { state: 'flood-wait', floodWaitSeconds: 5 },
      { state: 'bad-credentials' },
    )
    actor.start()
    for (let i = 0; i < 20; i++) {
      clock.increment(1_000)
      await settle()
    }
    actor.send({ type: 'loginCompleted' })
    await waitFor(actor, (s) => s.matches({ active: { connection: 'online' } }))
    client.report('transient-disconnect')
    actor.send({ type: 'disconnect' })
    await waitFor(actor, (s) => s.status === 'done')
    expect(health.map((c) => c.health)).toEqual([
      'connecting',
      'reconnecting',
      'connecting',
      'flood_wait',
      'connecting',
      'needs_login',
      'connecting',
      'online',
      'reconnecting',
      'disconnecting',
      'disconnected',
    ])
    for (const change of health.slice(1)) {
      expect([change.previous, change.health, canChangeHealth(change.previous!, change.health)]).toEqual([
        change.previous,
        change.health,
        true,
      ])
    }
  })
})
