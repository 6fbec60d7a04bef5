/** @module Types shared by the portal sender's files. */
import type { Sql } from '../../../storage/db.ts'
import type { FileStore } from '../../../storage/files/file-store.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import type { Logger } from '../../log/logger.ts'
import type { BitrixApi } from '../api.ts'
import type { PortalSenderMetrics } from './metrics.ts'
import type { PortalSenderOptions } from './options.ts'

export interface PortalSenderDeps {
  /** For the one transaction that settles a call's rows. */
  sql: Sql
  repos: Pick<Repositories, 'deliveries' | 'messages' | 'chats' | 'accounts' | 'lines'>
  api: BitrixApi
  files: FileStore
  log: Logger
  metrics?: PortalSenderMetrics
  options?: Partial<PortalSenderOptions>
  /** Milliseconds since the epoch (pauses, retry times). */
  now?: () => number
  random?: () => number
}

/** Why a drain turn ended, and what it did. */
export interface DrainResult {
  status: 'idle' | 'more' | 'unbound' | 'paused' | 'stopped'
  calls: number
  delivered: number
  failed: number
  released: number
  invalid: number
}

/** Where an account's rows go: its portal, and the connector + Open Line its account is bound to. */
export interface Target {
  portalId: string
  connector: string
  line: string | number
}
