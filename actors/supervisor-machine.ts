/**
 * @module The process's root actor (`systemId: 'supervisor'`). It owns the long-running background actors of
 * this instance; account actors and the retention actor join it as they land. On `shutdown` it stops its
 * children and reaches its final state, which the process waits for before closing the pools.
 */
import { type ActorRefFrom, setup, stopChild } from 'xstate'
import {
  type PartitionMaintenanceInput,
  partitionMaintenanceMachine,
} from './partition-maintenance-machine.ts'

export interface SupervisorInput {
  partitions: PartitionMaintenanceInput
}

export const supervisorMachine = setup({
  types: {
    input: {} as SupervisorInput,
    context: {} as { partitionMaintenance: ActorRefFrom<typeof partitionMaintenanceMachine> },
    events: {} as { type: 'shutdown' },
  },
  actors: { partitionMaintenance: partitionMaintenanceMachine },
}).createMachine({
  id: 'supervisor',
  context: ({ input, spawn }) => ({
    partitionMaintenance: spawn('partitionMaintenance', {
      id: 'partition-maintenance',
      systemId: 'partition-maintenance',
      input: input.partitions,
    }),
  }),
  initial: 'running',
  states: {
    running: {
      on: {
        shutdown: { target: 'stopped', actions: stopChild(({ context }) => context.partitionMaintenance) },
      },
    },
    stopped: { type: 'final' },
  },
})
