/**
 * How one inbox pass is split: chats side by side, each chat in id order, and an event without a chat
 * (install, line, uninstall) alone between what came before and after it.
 */
import { expect, test } from 'bun:test'
import { planSteps } from '../../../src/bitrix/app/inbox-worker.ts'
import type { InboundEvent } from '../../../storage/repos/inbound-events.ts'

function row(id: number, orderKey: string | null, portalId = 'p1'): InboundEvent {
  const at = new Date('2026-03-01T10:00:00Z')
  return {
    id: String(id),
    portalId,
    event: orderKey === null ? 'ONAPPUPDATE' : 'ONIMCONNECTORMESSAGEADD',
    dedupKey: `d${id}`,
    orderKey,
    payload: null,
    status: 'pending',
    attempts: 1,
    availableAt: at,
    lockedUntil: null,
    receivedAt: at,
    processedAt: null,
    lastError: null,
  }
}

const shape = (steps: ReturnType<typeof planSteps>) =>
  steps.map((step) => step.map((chain) => chain.rows.map((r) => Number(r.id))))

test('chats run side by side, each in id order; the same chat key of another portal is another chat', () => {
  const steps = planSteps([row(1, 'a'), row(2, 'b'), row(3, 'a'), row(4, 'a', 'p2'), row(5, 'b')])
  expect(shape(steps)).toEqual([[[1, 3], [2, 5], [4]]])
})

test('an event without a chat is a step of its own: nothing before it is left, nothing after it started', () => {
  const steps = planSteps([row(1, 'a'), row(2, null), row(3, 'a'), row(4, 'b'), row(5, null), row(6, null)])
  expect(shape(steps)).toEqual([[[1]], [[2]], [[3], [4]], [[5]], [[6]]])
})

test('nothing claimed: no steps', () => {
  expect(planSteps([])).toEqual([])
})
