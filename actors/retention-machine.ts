/**
 * @module The retention actor (PRIVACY R3–R8), one per process under the supervisor. The deadlines live in
 * PostgreSQL (`retention_deadlines`, one row per sweep with its absolute due time); this machine only waits
 * the short time until the earliest of them, runs what is due, and reads the next due time from the
 * database again. Nothing is kept in the machine that a crash could lose: a restarted process finds the same
 * rows (and a sweep claimed by a process that died becomes due again when its claim lapses).
 *
 * States: `sweeping` (runs every due sweep) → `waiting` (until the next deadline, at most `maxWaitMs`) →
 * `sweeping` …; a failed round → `retrying` (`retryMs`) → `sweeping`. `wake` sweeps now (a sweep in progress
 * is followed by another at once).
 */
import { assign, fromPromise, setup } from 'xstate'

/** What one round did: how many sweeps ran, and when the next deadline is due. */
export interface RetentionRound {
  ran: number
  /** Milliseconds until the earliest deadline (≤ 0: due now); null when there is none. */
  nextInMs: number | null
}

export interface RetentionMachineInput {
  /** Runs every sweep whose deadline is due and reads the next deadline (src/retention). */
  sweepDue: () => Promise<RetentionRound>
  onError: (error: unknown) => void
  /** The longest wait between rounds: new deadlines written by others are seen within it. */
  maxWaitMs?: number
  /** The shortest wait: a deadline that stays due (claimed elsewhere, clock skew) cannot spin the loop. */
  minWaitMs?: number
  /** Pause after a failed round. */
  retryMs?: number
}

interface RetentionContext extends Required<RetentionMachineInput> {
  /** The wait chosen after the last round. */
  waitMs: number
  /** `wake` arrived during a round: sweep again at once. */
  wakePending: boolean
  rounds: number
  failures: number
}

export type RetentionEvent = { type: 'wake' }

/** Clamps the time to the next deadline into [minWaitMs, maxWaitMs]; no deadline known waits the most. */
export function waitAfterRound(
  round: RetentionRound,
  { minWaitMs, maxWaitMs }: { minWaitMs: number; maxWaitMs: number },
): number {
  if (round.nextInMs === null) return maxWaitMs
  return Math.min(maxWaitMs, Math.max(minWaitMs, Math.ceil(round.nextInMs)))
}

export const retentionMachine = setup({
  types: {
    input: {} as RetentionMachineInput,
    context: {} as RetentionContext,
    events: {} as RetentionEvent,
  },
  actors: {
    sweepDue: fromPromise<RetentionRound, { sweepDue: () => Promise<RetentionRound> }>(({ input }) =>
      input.sweepDue(),
    ),
  },
  delays: {
    wait: ({ context }) => context.waitMs,
    retry: ({ context }) => context.retryMs,
  },
}).createMachine({
  id: 'retention',
  context: ({ input }) => ({
    maxWaitMs: 10 * 60_000,
    minWaitMs: 1_000,
    retryMs: 60_000,
    ...input,
    waitMs: 0,
    wakePending: false,
    rounds: 0,
    failures: 0,
  }),
  initial: 'sweeping',
  states: {
    sweeping: {
      entry: assign({ wakePending: false }),
      on: { wake: { actions: assign({ wakePending: true }) } },
      invoke: {
        src: 'sweepDue',
        input: ({ context }) => ({ sweepDue: context.sweepDue }),
        onDone: [
          {
            guard: ({ context }) => context.wakePending,
            target: 'sweeping',
            reenter: true,
            actions: assign({ rounds: ({ context }) => context.rounds + 1 }),
          },
          {
            target: 'waiting',
            actions: assign({
              rounds: ({ context }) => context.rounds + 1,
              waitMs: ({ context, event }) => waitAfterRound(event.output, context),
            }),
          },
        ],
        onError: {
          target: 'retrying',
          actions: [
            assign({ failures: ({ context }) => context.failures + 1 }),
            ({ context, event }) => context.onError(event.error),
          ],
        },
      },
    },
    waiting: {
      after: { wait: 'sweeping' },
      on: { wake: 'sweeping' },
    },
    retrying: {
      after: { retry: 'sweeping' },
      on: { wake: 'sweeping' },
    },
  },
})
