import { describe, expect, test } from 'bun:test'
import { createActor, SimulatedClock, toPromise, waitFor } from 'xstate'
import { partitionMaintenanceMachine } from '../../actors/partition-maintenance-machine.ts'
import { supervisorMachine } from '../../actors/supervisor-machine.ts'

describe('partition maintenance actor', () => {
  test('runs at start, then once per interval', async () => {
    const clock = new SimulatedClock()
    let runs = 0
    const actor = createActor(partitionMaintenanceMachine, {
      clock,
      input: { ensurePartitions: async () => void runs++, onError: () => {}, intervalMs: 1000 },
    }).start()
    await waitFor(actor, (s) => s.matches('waiting'))
    expect(runs).toBe(1)
    clock.increment(999)
    expect(actor.getSnapshot().value).toBe('waiting')
    clock.increment(1)
    await waitFor(actor, (s) => s.matches('waiting') && s.context.runs === 2)
    expect(runs).toBe(2)
    actor.stop()
  })

  test('a failed run is reported and retried after the retry delay', async () => {
    const clock = new SimulatedClock()
    const errors: unknown[] = []
    let calls = 0
    const actor = createActor(partitionMaintenanceMachine, {
      clock,
      input: {
        ensurePartitions: async () => {
          calls++
          if (calls === 1) throw new Error('database away')
        },
        onError: (error) => errors.push(error),
        retryMs: 500,
      },
    }).start()
    await waitFor(actor, (s) => s.matches('retrying'))
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).message).toBe('database away')
    clock.increment(500)
    await waitFor(actor, (s) => s.matches('waiting'))
    expect(actor.getSnapshot().context).toMatchObject({ runs: 1, failures: 1 })
    actor.stop()
  })
})

describe('supervisor', () => {
  test('registers as "supervisor", owns its children and stops them on shutdown', async () => {
    let runs = 0
    const supervisor = createActor(supervisorMachine, {
      systemId: 'supervisor',
      input: { partitions: { ensurePartitions: async () => void runs++, onError: () => {} } },
    }).start()
    expect(supervisor.system.get('supervisor')).toBe(supervisor)
    const child = supervisor.system.get('partition-maintenance')
    expect(child).toBeDefined()
    await waitFor(child, (s) => s.matches('waiting'))
    expect(runs).toBe(1)
    supervisor.send({ type: 'shutdown' })
    await toPromise(supervisor)
    expect(supervisor.getSnapshot().status).toBe('done')
    expect(child.getSnapshot().status).toBe('stopped')
  })
})
