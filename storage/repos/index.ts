/**
 * @module Every repository, built once from the pool and the secret box (one file per table beside this).
 * Each method takes an optional query handle last, so a caller can write several tables in one
 * `sql.begin(async (tx) => …)` by passing `tx`.
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import { AccountLeaseRepository } from './account-leases.ts'
import { AccountSessionRepository } from './account-sessions.ts'
import { AccountRepository } from './accounts.ts'
import { AnalyticsRepository } from './analytics.ts'
import { AuditLogRepository } from './audit-log.ts'
import { ChatRepository } from './chats.ts'
import { ContactRepository } from './contacts.ts'
import { DataRequestRepository } from './data-requests.ts'
import { type DeliveryOptions, DeliveryRepository } from './deliveries.ts'
import { InboundEventRepository } from './inbound-events.ts'
import { LineRepository } from './lines.ts'
import { MaxUpdateRepository } from './max-updates.ts'
import { MessageRepository } from './messages.ts'
import { PortalRepository } from './portals.ts'
import { RetentionDeadlineRepository } from './retention-deadlines.ts'
import { TelegramSessionRepository } from './telegram-sessions.ts'

export interface RepositoryOptions {
  deliveries?: DeliveryOptions
}

export function createRepositories(sql: Sql, secrets: SecretBox, options: RepositoryOptions = {}) {
  return {
    portals: new PortalRepository(sql, secrets),
    lines: new LineRepository(sql),
    accounts: new AccountRepository(sql, secrets),
    accountSessions: new AccountSessionRepository(sql, secrets),
    accountLeases: new AccountLeaseRepository(sql),
    contacts: new ContactRepository(sql, secrets),
    chats: new ChatRepository(sql),
    messages: new MessageRepository(sql),
    deliveries: new DeliveryRepository(sql, secrets, options.deliveries),
    auditLog: new AuditLogRepository(sql),
    dataRequests: new DataRequestRepository(sql),
    inboundEvents: new InboundEventRepository(sql, secrets),
    analytics: new AnalyticsRepository(sql),
    retentionDeadlines: new RetentionDeadlineRepository(sql),
    maxUpdates: new MaxUpdateRepository(sql, secrets),
    telegramSessions: new TelegramSessionRepository(sql, secrets),
  }
}

export type Repositories = ReturnType<typeof createRepositories>
