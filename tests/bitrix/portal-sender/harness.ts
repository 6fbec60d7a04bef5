/**
 * @module Shared set-up of the portal sender suites: a throwaway database, a portal → line → account
 * binding, chats, a real LocalFileStore in a temp dir with a movable clock, a RecordingPortal and a logger
 * whose lines the tests can read.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { Registry } from 'prom-client'
import { connectors } from '../../../src/bitrix/connectors.ts'
import {
  createPortalSenderMetrics,
  type PortalSenderMetrics,
} from '../../../src/bitrix/portal-sender/metrics.ts'
import type { PortalSenderOptions } from '../../../src/bitrix/portal-sender/options.ts'
import type { MessagePayloadInput } from '../../../src/bitrix/portal-sender/payloads.ts'
import { PortalSender } from '../../../src/bitrix/portal-sender/portal-sender.ts'
import { createLogger } from '../../../src/log/logger.ts'
import { LocalFileStore } from '../../../storage/files/local-file-store.ts'
import type { Chat } from '../../../storage/repos/chats.ts'
import type { Delivery, DeliveryInput, DeliveryKind } from '../../../storage/repos/deliveries.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { repositories, seedAccount, seedChat, seedPortal } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { RecordingPortal } from './recording-portal.ts'

export const CONNECTOR = connectors.telegram.id
export const LINE = '12'

export interface LogLine {
  level: string
  msg: string
  [key: string]: unknown
}

export interface Harness {
  db: TestDatabase
  repos: Repositories
  files: LocalFileStore
  /** The file store's clock (ms); move it to mint links with another `exp`. */
  clock: { ms: number }
  portal: RecordingPortal
  portalId: string
  accountId: string
  chats: Chat[]
  logs: LogLine[]
  metrics: PortalSenderMetrics
  registry: Registry
  sender(options?: Partial<PortalSenderOptions>): PortalSender
  /** Empties the queue, the recordings and the logs (not the database's other tables). */
  reset(): Promise<void>
  close(): Promise<void>
}

export async function createHarness({ chats = 3 }: { chats?: number } = {}): Promise<Harness> {
  const db = await createTestDatabase()
  const repos = repositories(db.sql, { deliveries: { maxAttempts: 5 } })
  const portal = await seedPortal(repos)
  const account = await seedAccount(repos, portal.id)
  const line = await repos.lines.upsert({ portalId: portal.id, connectorId: CONNECTOR, lineId: LINE })
  await repos.accounts.bindLine(account.id, line.id)
  const seeded: Chat[] = []
  for (let i = 0; i < chats; i++) seeded.push(await seedChat(repos, account.id))
  const dir = await mkdtemp(join(tmpdir(), 'olchat-portal-sender-'))
  const clock = { ms: Date.now() }
  const files = new LocalFileStore({
    dir,
    baseUrl: 'https://olchat.test',
    signingKey: randomBytes(32),
    now: () => clock.ms,
  })
  const recording = new RecordingPortal()
  recording.activate(CONNECTOR, LINE)
  const logs: LogLine[] = []
  const log = createLogger({
    level: 'debug',
    destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
  })
  const registry = new Registry()
  const metrics = createPortalSenderMetrics(registry)
  return {
    db,
    repos,
    files,
    clock,
    portal: recording,
    portalId: portal.id,
    accountId: account.id,
    chats: seeded,
    logs,
    metrics,
    registry,
    sender: (options = {}) =>
      new PortalSender({
        sql: db.sql,
        repos,
        api: recording,
        files,
        log,
        metrics,
        options: { retry: { baseMs: 60_000, maxMs: 60_000, jitter: 0 }, ...options },
      }),
    async reset() {
      await db.sql`delete from deliveries`
      recording.calls.length = 0
      recording.chats.clear()
      recording.failItem = recording.failBefore = recording.failAfter = recording.onCall = undefined
      recording.needsReauth = false
      recording.delayMs = 0
      recording.activate(CONNECTOR, LINE)
      logs.length = 0
    },
    async close() {
      await db.drop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

let sequence = 0

/** A customer message body for `chat` (external ids derived from the chat's remote id). */
export function messagePayload(chat: Chat, extra: Partial<MessagePayloadInput['message']> = {}) {
  const id = extra.id ?? `m${++sequence}`
  return {
    chat: { id: chat.remoteChatId, name: 'Ivan' },
    user: { id: chat.remoteChatId, name: 'Ivan', lastName: 'Petrov' },
    message: { id, date: 1_773_265_993, text: `text of ${id}`, ...extra },
  } satisfies MessagePayloadInput
}

export function row(
  h: Harness,
  chat: Chat | null,
  kind: DeliveryKind,
  payload: unknown,
  extra: Partial<DeliveryInput> = {},
): DeliveryInput {
  return {
    accountId: h.accountId,
    chatId: chat?.id ?? null,
    direction: 'to_portal',
    kind,
    idempotencyKey: `ps:${++sequence}`,
    payload,
    ...extra,
  }
}

export async function enqueue(h: Harness, inputs: DeliveryInput[]): Promise<Delivery[]> {
  return (await h.repos.deliveries.enqueueMany(inputs)).map((result) => result.delivery)
}

/** Stores a small file and returns its key. */
export async function putFile(h: Harness, name: string): Promise<string> {
  const key = `p/${h.portalId}/a/${h.accountId}/${name}`
  await h.files.put(key, Readable.from([Buffer.from(`bytes of ${name}`)]), { fileName: name })
  return key
}

/** Makes every backing-off row of the queue due now (time passing, without waiting). */
export async function makeDue(h: Harness): Promise<void> {
  await h.db.sql`update deliveries set available_at = now() where status = 'pending'`
}

/** The metric's value for the given labels (0 when never incremented). */
export async function metricValue(h: Harness, name: string, labels: Record<string, string> = {}) {
  const metric = await h.registry.getSingleMetric(name)?.get()
  const match = metric?.values.find((value) =>
    Object.entries(labels).every(([key, label]) => value.labels[key] === label),
  )
  return match?.value ?? 0
}
