/**
 * @module Keeps the daily partitions of message metadata ahead of time: runs at start, then every
 * `intervalMs`. A failed run is logged by the caller's `onError` and retried after `retryMs`; inserts never
 * fail meanwhile because the table has a default partition.
 */
import { assign, fromPromise, setup } from 'xstate'

export interface PartitionMaintenanceInput {
  /** Creates the partitions from yesterday to `daysAhead` days from now (idempotent). */
  ensurePartitions: () => Promise<void>
  onError: (error: unknown) => void
  intervalMs?: number
  retryMs?: number
}

export const partitionMaintenanceMachine = setup({
  types: {
    input: {} as PartitionMaintenanceInput,
    context: {} as Required<PartitionMaintenanceInput> & { runs: number; failures: number },
  },
  actors: {
    ensure: fromPromise<void, { ensurePartitions: () => Promise<void> }>(({ input }) =>
      input.ensurePartitions(),
    ),
  },
  delays: {
    interval: ({ context }) => context.intervalMs,
    retry: ({ context }) => context.retryMs,
  },
}).createMachine({
  id: 'partitionMaintenance',
  context: ({ input }) => ({
    intervalMs: 6 * 3600_000,
    retryMs: 60_000,
    ...input,
    runs: 0,
    failures: 0,
  }),
  initial: 'working',
  states: {
    working: {
      invoke: {
        src: 'ensure',
        input: ({ context }) => ({ ensurePartitions: context.ensurePartitions }),
        onDone: { target: 'waiting', actions: assign({ runs: ({ context }) => context.runs + 1 }) },
        onError: {
          target: 'retrying',
          actions: [
            assign({ failures: ({ context }) => context.failures + 1 }),
            ({ context, event }) => context.onError(event.error),
          ],
        },
      },
    },
    waiting: { after: { interval: 'working' } },
    retrying: { after: { retry: 'working' } },
  },
})
