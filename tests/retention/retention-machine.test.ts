import { describe, expect, test } from 'bun:test'
import { createActor, fromPromise, SimulatedClock, toPromise, waitFor } from 'xstate'
import { type RetentionRound, retentionMachine } from '../../actors/retention-machine.ts'
import { supervisorMachine } from '../../actors/supervisor-machine.ts'

/** A retention actor whose rounds are scripted: each call returns the next answer (the last one repeats). */
function scripted(
  answers: Array<RetentionRound | Error>,
  options: { maxWaitMs?: number; minWaitMs?: number } = {},
) {
  const clock = new SimulatedClock()
  const errors: unknown[] = []
  let calls = 0
  const machine = retentionMachine.provide({
    actors: {
      sweepDue: fromPromise(async () => {
        const answer = answers[Math.min(calls, answers.length - 1)]!
        calls++
        if (answer instanceof Error) throw answer
        return answer
      }),
    },
  })
  const actor = createActor(machine, {
    clock,
    input: {
      sweepDue: () => Promise.reject(new Error('replaced by provide')),
      onError: (error) => errors.push(error),
      retryMs: 30_000,
      maxWaitMs: 600_000,
      minWaitMs: 1_000,
      ...options,
    },
  })
  return { clock, actor, errors, calls: () => calls }
}

describe('retention actor', () => {
  test('R3, R5–R8: sweeps at start, then sleeps exactly until the next durable deadline it read back', async () => {
    const { clock, actor, calls } = scripted([{ ran: 6, nextInMs: 5_000 }])
    actor.start()
    await waitFor(actor, (s) => s.matches('waiting'))
    expect(calls()).toBe(1)
    expect(actor.getSnapshot().context.waitMs).toBe(5_000)
    clock.increment(4_999)
    expect(actor.getSnapshot().value).toBe('waiting')
    expect(calls()).toBe(1)
    clock.increment(1)
    await waitFor(actor, (s) => s.matches('waiting') && s.context.rounds === 2)
    expect(calls()).toBe(2)
    actor.stop()
  })

  test('R3, R5–R8: a deadline days away is never one long timer: the wait is capped and the database read again', async () => {
    const { clock, actor, calls } = scripted([{ ran: 1, nextInMs: 30 * 86_400_000 }], { maxWaitMs: 600_000 })
    actor.start()
    await waitFor(actor, (s) => s.matches('waiting'))
    expect(actor.getSnapshot().context.waitMs).toBe(600_000)
    clock.increment(600_000)
    await waitFor(actor, (s) => s.context.rounds === 2)
    expect(calls()).toBe(2)
    actor.stop()
  })

  test('R3, R5–R8: no deadline known waits the longest; one already due waits the shortest (no busy loop)', async () => {
    const none = scripted([{ ran: 0, nextInMs: null }])
    none.actor.start()
    await waitFor(none.actor, (s) => s.matches('waiting'))
    expect(none.actor.getSnapshot().context.waitMs).toBe(600_000)
    none.actor.stop()

    const overdue = scripted([{ ran: 0, nextInMs: -5_000 }])
    overdue.actor.start()
    await waitFor(overdue.actor, (s) => s.matches('waiting'))
    expect(overdue.actor.getSnapshot().context.waitMs).toBe(1_000)
    overdue.clock.increment(999)
    expect(overdue.calls()).toBe(1)
    overdue.clock.increment(1)
    await waitFor(overdue.actor, (s) => s.context.rounds === 2)
    overdue.actor.stop()
  })

  test('R3, R5–R8: a failed round is reported and retried after the retry delay, then the schedule resumes', async () => {
    const { clock, actor, errors, calls } = scripted([
      new Error('database away'),
      { ran: 2, nextInMs: 60_000 },
    ])
    actor.start()
    await waitFor(actor, (s) => s.matches('retrying'))
    expect((errors[0] as Error).message).toBe('database away')
    clock.increment(29_999)
    expect(calls()).toBe(1)
    clock.increment(1)
    await waitFor(actor, (s) => s.matches('waiting'))
    expect(actor.getSnapshot().context).toMatchObject({ rounds: 1, failures: 1, waitMs: 60_000 })
    actor.stop()
  })

  test('R3, R5–R8: wake sweeps at once; a wake during a round is followed by another round', async () => {
    let release: (() => void) | undefined
    let calls = 0
    const clock = new SimulatedClock()
    const machine = retentionMachine.provide({
      actors: {
        sweepDue: fromPromise(async (): Promise<RetentionRound> => {
          calls++
          if (calls === 2) await new Promise<void>((resolve) => (release = resolve))
          return { ran: 1, nextInMs: 300_000 }
        }),
      },
    })
    const actor = createActor(machine, {
      clock,
      input: { sweepDue: async () => ({ ran: 0, nextInMs: null }), onError: () => {} },
    }).start()
    await waitFor(actor, (s) => s.matches('waiting'))
    actor.send({ type: 'wake' })
    await waitFor(actor, () => release !== undefined)
    expect(actor.getSnapshot().value).toBe('sweeping')
    actor.send({ type: 'wake' })
    release!()
    await waitFor(actor, (s) => s.matches('waiting') && s.context.rounds === 3)
    expect(calls).toBe(3)
    actor.stop()
  })
})

describe('supervisor hosts the retention actor', () => {
  test('R3, R5–R8: spawned as "retention" with the durable-deadline round, stopped on shutdown', async () => {
    let rounds = 0
    const supervisor = createActor(supervisorMachine, {
      systemId: 'supervisor',
      input: {
        partitions: { ensurePartitions: async () => {}, onError: () => {} },
        retention: {
          sweepDue: async () => {
            rounds++
            return { ran: 0, nextInMs: 60_000 }
          },
          onError: () => {},
        },
      },
    }).start()
    const retention = supervisor.system.get('retention')
    expect(retention).toBeDefined()
    await waitFor(retention, (s) => s.matches('waiting'))
    expect(rounds).toBe(1)
    supervisor.send({ type: 'shutdown' })
    await toPromise(supervisor)
    expect(retention.getSnapshot().status).toBe('stopped')
  })

  test('R3, R5–R8: without retention input no retention actor runs in the process', () => {
    const supervisor = createActor(supervisorMachine, {
      input: { partitions: { ensurePartitions: async () => {}, onError: () => {} } },
    }).start()
    expect(supervisor.system.get('retention')).toBeUndefined()
    supervisor.stop()
  })
})
