/** @module The only place the actor system is created (`createActor`); everything else receives it. */
import { type Actor, createActor, toPromise } from 'xstate'
import { type SupervisorInput, supervisorMachine } from './supervisor-machine.ts'

export type Supervisor = Actor<typeof supervisorMachine>

export function startSupervisor(input: SupervisorInput): Supervisor {
  return createActor(supervisorMachine, { input, systemId: 'supervisor' }).start()
}

/** Asks the supervisor to stop its children and waits until it has. */
export async function stopSupervisor(supervisor: Supervisor): Promise<void> {
  supervisor.send({ type: 'shutdown' })
  await toPromise(supervisor)
}
