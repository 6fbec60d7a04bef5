import { describe, expect, test } from 'bun:test'
import { type AnyActorRef, createActor, SimulatedClock, toPromise, waitFor } from 'xstate'
import { type AccountMachineInput, accountMachine } from '../../actors/account-machine.ts'
import { type SupervisorAccountsInput, supervisorMachine } from '../../actors/supervisor-machine.ts'
import {
  type AccountId,
  toAccountId,
  toRemoteChatId,
  toRemoteMessageId,
  toRemoteUserId,
} from '../../src/bridge/ids.ts'
import { FakeClient } from './fake-client.ts'

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

/** The real account machine, except that any remote event makes it throw (a crash). */
const crashOnEvent = accountMachine.provide({
  actions: {
    forwardRemoteEvent: () => {
      throw new Error('bug in the relay')
    },
  },
})

function start({
  createInput,
  stableMs = 60_000,
}: {
  createInput?: SupervisorAccountsInput['createInput']
  stableMs?: number
} = {}) {
  const clock = new SimulatedClock()
  const clients = new Map<string, FakeClient[]>()
  const crashes: { accountId: string; delay: number }[] = []
  const cleaned: string[] = []
  const input = (accountId: AccountId): AccountMachineInput => {
    const client = new FakeClient(accountId)
    clients.set(accountId, [...(clients.get(accountId) ?? []), client])
    return {
      accountId,
      client,
      hooks: {
        setHealth: () => {},
        onAlert: () => {},
        cleanup: async (id) => void cleaned.push(id),
      },
      options: { now: () => clock.now(), random: () => 0.5 },
    }
  }
  const supervisor = createActor(supervisorMachine.provide({ actors: { account: crashOnEvent } }), {
    clock,
    systemId: 'supervisor',
    input: {
      partitions: { ensurePartitions: async () => {}, onError: () => {} },
      accounts: {
        createInput: createInput ?? (({ accountId }) => input(accountId)),
        restart: { baseMs: 1_000, capMs: 8_000, stableMs, random: () => 0.5 },
        onCrash: (accountId, _error, delay) => void crashes.push({ accountId, delay }),
      },
    },
  }).start()
  const child = (accountId: string) =>
    supervisor.getSnapshot().children[`account-${accountId}`] as AnyActorRef | undefined
  const latest = (accountId: string) => clients.get(accountId)!.at(-1)!
  const online = (accountId: string) =>
    waitFor(child(accountId)!, (s) => s.matches({ active: { connection: 'online' } }))
  const crash = (accountId: string) => {
    const client = latest(accountId)
    client.emit({
      type: 'message',
      accountId: client.accountId,
      chat: { accountId: client.accountId, chatId: toRemoteChatId('c') },
      messageId: toRemoteMessageId('m'),
      sender: { userId: toRemoteUserId('u'), fromMe: false },
      files: [],
      timestamp: new Date(0),
    })
  }
  const send = (type: 'account.start' | 'account.stop' | 'account.release', accountId: string) =>
    supervisor.send({ type, accountId: toAccountId(accountId) })
  return { clock, clients, crashes, cleaned, supervisor, child, latest, online, crash, send }
}

describe('supervisor: account actors', () => {
  test('spawns one actor per account with id account-<id>; a repeated start is ignored', async () => {
    const { supervisor, child, online, send, clients } = start()
    send('account.start', 'a1')
    send('account.start', 'a2')
    send('account.start', 'a1')
    expect(Object.keys(supervisor.getSnapshot().children).sort()).toEqual([
      'account-a1',
      'account-a2',
      'partition-maintenance',
    ])
    await online('a1')
    await online('a2')
    expect(child('a1')!.getSnapshot().context.accountId).toBe('a1')
    expect(clients.get('a1')).toHaveLength(1)
    supervisor.stop()
  })

  test('restarts a crashed account actor after a growing, capped backoff, with a fresh client', async () => {
    const { supervisor, child, online, crash, crashes, clients, clock, send, latest } = start()
    send('account.start', 'a1')
    await online('a1')
    const delays: number[] = []
    for (let n = 1; n <= 5; n++) {
      const before = latest('a1')
      crash('a1')
      expect(child('a1')).toBeUndefined()
      const delay = crashes.at(-1)!.delay
      delays.push(delay)
      await settle()
      // The crashed actor's client is closed before anything restarts.
      expect(before.calls).toContain('disconnect')
      clock.increment(delay - 1)
      expect(child('a1')).toBeUndefined()
      clock.increment(1)
      expect(child('a1')).toBeDefined()
      expect(clients.get('a1')).toHaveLength(n + 1)
      await online('a1')
    }
    expect(delays).toEqual([750, 1_500, 3_000, 6_000, 6_000])
    expect(supervisor.getSnapshot().context.accounts.a1).toMatchObject({ crashes: 5, restarts: 5 })
    expect(supervisor.getSnapshot().status).toBe('active')
    supervisor.stop()
  })

  test('a restarted actor that stays up for stableMs starts counting crashes from zero', async () => {
    const { supervisor, online, crash, crashes, clock, send } = start({ stableMs: 60_000 })
    send('account.start', 'a1')
    await online('a1')
    crash('a1')
    clock.increment(750)
    await online('a1')
    crash('a1')
    clock.increment(1_500)
    await online('a1')
    clock.increment(60_000)
    crash('a1')
    expect(crashes.map((c) => c.delay)).toEqual([750, 1_500, 750])
    supervisor.stop()
  })

  test('a failure to build the input counts as a crash and is retried', async () => {
    let failures = 1
    const clock = new SimulatedClock()
    const crashes: number[] = []
    const supervisor = createActor(supervisorMachine, {
      clock,
      input: {
        partitions: { ensurePartitions: async () => {}, onError: () => {} },
        accounts: {
          createInput: ({ accountId }) => {
            if (failures-- > 0) throw new Error('no such connector')
            return {
              accountId,
              client: new FakeClient(accountId),
              hooks: { setHealth: () => {}, onAlert: () => {}, cleanup: async () => {} },
            }
          },
          restart: { baseMs: 1_000, random: () => 0 },
          onCrash: (_id, _error, delay) => void crashes.push(delay),
        },
      },
    }).start()
    supervisor.send({ type: 'account.start', accountId: toAccountId('a1') })
    expect(supervisor.getSnapshot().children['account-a1']).toBeUndefined()
    expect(crashes).toEqual([500])
    clock.increment(500)
    expect(supervisor.getSnapshot().children['account-a1']).toBeDefined()
    supervisor.stop()
  })

  test('account.stop disconnects the account: logout, cleanup, then the actor is gone', async () => {
    const { supervisor, online, send, latest, cleaned, child } = start()
    send('account.start', 'a1')
    await online('a1')
    const actor = child('a1')!
    send('account.stop', 'a1')
    await toPromise(actor)
    expect(actor.getSnapshot().value).toBe('disconnected')
    expect(latest('a1').calls).toContain('logoutRemote')
    expect(cleaned).toEqual(['a1'])
    expect(child('a1')).toBeUndefined()
    expect(supervisor.getSnapshot().context.accounts).toEqual({})
    supervisor.stop()
  })

  test('account.stop of a crashed account waiting for its restart disconnects it at once', async () => {
    const { supervisor, online, send, crash, cleaned, child, clock } = start()
    send('account.start', 'a1')
    await online('a1')
    crash('a1')
    expect(child('a1')).toBeUndefined()
    send('account.stop', 'a1')
    const actor = child('a1')!
    expect(actor).toBeDefined()
    await toPromise(actor)
    expect(cleaned).toEqual(['a1'])
    clock.increment(60_000)
    expect(child('a1')).toBeUndefined()
    supervisor.stop()
  })

  test('account.release stops the actor and closes the connection, keeping the session', async () => {
    const { supervisor, online, send, latest, cleaned, child, crash, clock, clients } = start()
    send('account.start', 'a1')
    await online('a1')
    const actor = child('a1')!
    send('account.release', 'a1')
    await settle()
    expect(actor.getSnapshot().status).toBe('stopped')
    expect(latest('a1').calls).toEqual(['connect', 'disconnect'])
    expect(cleaned).toEqual([])
    // A release also cancels a pending restart.
    send('account.start', 'a1')
    await online('a1')
    crash('a1')
    send('account.release', 'a1')
    clock.increment(60_000)
    expect(child('a1')).toBeUndefined()
    expect(clients.get('a1')).toHaveLength(2)
    supervisor.stop()
  })

  test('shutdown stops every account actor and cancels pending restarts', async () => {
    const { supervisor, online, send, crash, child, clients, clock } = start()
    send('account.start', 'a1')
    send('account.start', 'a2')
    await online('a1')
    await online('a2')
    const a1 = child('a1')!
    crash('a2')
    supervisor.send({ type: 'shutdown' })
    await toPromise(supervisor)
    expect(supervisor.getSnapshot().status).toBe('done')
    expect(a1.getSnapshot().status).toBe('stopped')
    clock.increment(60_000)
    expect(clients.get('a2')).toHaveLength(1)
    await settle()
    expect(clients.get('a1')![0]!.calls).toEqual(['connect', 'disconnect'])
  })

  test('without an accounts input, account events are ignored', () => {
    const supervisor = createActor(supervisorMachine, {
      input: { partitions: { ensurePartitions: async () => {}, onError: () => {} } },
    }).start()
    supervisor.send({ type: 'account.start', accountId: toAccountId('a1') })
    supervisor.send({ type: 'account.stop', accountId: toAccountId('a1') })
    expect(Object.keys(supervisor.getSnapshot().children)).toEqual(['partition-maintenance'])
    expect(supervisor.getSnapshot().status).toBe('active')
    supervisor.stop()
  })
})
