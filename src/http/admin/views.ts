/**
 * @module Rows and steps as the API shows them. Leaves out what an admin screen does not need: the phone
 * number and credentials of an account, the payload of a delivery, the `LoginResult` of a complete step
 * (which may carry a bot token).
 */
import type { Account } from '../../../storage/repos/accounts.ts'
import type { Delivery } from '../../../storage/repos/deliveries.ts'
import type { LoginStep } from '../../bridge/login.ts'
import type { AccountViewT, DeadLetterViewT, LoginStepViewT } from './schemas.ts'

const iso = (date: Date | null) => (date === null ? null : date.toISOString())

export function accountView(account: Account): AccountViewT {
  return {
    id: account.id,
    portalId: account.portalId,
    messenger: account.messenger,
    lineId: account.lineId === null ? null : String(account.lineId),
    remoteId: account.remoteId,
    displayName: account.displayName,
    username: account.username,
    employeeId: account.employeeId,
    health: account.health,
    healthChangedAt: account.healthChangedAt.toISOString(),
    staleAt: iso(account.staleAt),
    createdAt: account.createdAt.toISOString(),
  }
}

export function stepView(step: LoginStep, accountId: string): LoginStepViewT {
  const base = { stepId: step.stepId as string, instructions: step.instructions }
  switch (step.type) {
    case 'user-input':
      return { type: step.type, ...base, fields: step.fields }
    case 'display-and-wait':
      return {
        type: step.type,
        ...base,
        displayData: step.displayData,
        ...(step.expiresAt === undefined ? {} : { expiresAt: step.expiresAt.toISOString() }),
      }
    case 'complete':
      return { type: step.type, ...base, accountId }
  }
}

export type DeadLetterRow = Omit<Delivery, 'payload' | 'status' | 'availableAt' | 'lockedUntil'> & {
  retryable: boolean
}

export function deadLetterView(row: DeadLetterRow): DeadLetterViewT {
  return {
    id: row.id,
    accountId: row.accountId,
    chatId: row.chatId,
    direction: row.direction,
    kind: row.kind,
    attempts: row.attempts,
    lastError: row.lastError,
    createdAt: row.createdAt.toISOString(),
    finishedAt: iso(row.finishedAt),
    expiresAt: row.expiresAt.toISOString(),
    retryable: row.retryable,
  }
}
