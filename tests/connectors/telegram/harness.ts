/**
 * The Telegram connector over the stub world: real mtcute `TelegramClient`s (core's, as production uses)
 * over `TelegramStub` (production's network middlewares included), with their session in PostgreSQL through
 * `telegramStorage` and the message log in `telegram_message_chats` (real tables, real sealing).
 */
import { TelegramClient } from '@mtcute/core/client.js'
import { type AccountId, toAccountId } from '../../../src/bridge/ids.ts'
import type { LoginContext } from '../../../src/bridge/login.ts'
import { TelegramConnector } from '../../../src/connectors/telegram/connector.ts'
import type { TelegramDevice } from '../../../src/connectors/telegram/device.ts'
import { LoginAttempts } from '../../../src/connectors/telegram/login-common.ts'
import { storedMessageLog } from '../../../src/connectors/telegram/message-log.ts'
import { telegramStorage } from '../../../src/connectors/telegram/storage.ts'
import type { TelegramClientTuning, TelegramClock } from '../../../src/connectors/telegram/tuning.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { seedAccount } from '../../storage/fixtures.ts'
import { TelegramStub } from '../../support/telegram-stub.ts'
import { TelegramStubWorld } from '../../support/telegram-stub-world.ts'
import { MemorySessionStore } from '../contract.ts'

export const TEST_DEVICE: TelegramDevice = {
  deviceModel: 'Olchat test',
  systemVersion: 'Linux',
  appVersion: 'Olchat 0.0.0',
  langCode: 'ru',
}

export interface HarnessOptions {
  attempts?: LoginAttempts
  tuning?: Partial<TelegramClientTuning>
  clock?: TelegramClock
  device?: TelegramDevice
  /** Share another harness's Telegram (a second process, or a reconfigured one). */
  world?: TelegramStubWorld
}

export function telegramHarness(repos: Repositories, options: HarnessOptions = {}) {
  const world = options.world ?? new TelegramStubWorld()
  const stubs: TelegramStub[] = []
  /** The device each client was built with, in order. */
  const devices: TelegramDevice[] = []
  const connector = new TelegramConnector({
    storage: (accountId) => telegramStorage(repos.telegramSessions, accountId),
    createClient: (storage, device) => {
      const stub = new TelegramStub({ storage, updates: true, catchUp: true })
      stubs.push(stub)
      devices.push(device)
      world.attach(stub)
      return new TelegramClient({ client: stub })
    },
    device: options.device ?? TEST_DEVICE,
    messages: (accountId) => storedMessageLog(repos.telegramSessions.messageChats, accountId),
    attempts: options.attempts ?? new LoginAttempts(100),
    ...(options.tuning ? { tuning: options.tuning } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  })
  async function loginContext(): Promise<
    LoginContext & { session: MemorySessionStore; accountId: AccountId }
  > {
    const account = await seedAccount(repos)
    return {
      accountId: toAccountId(account.id),
      session: new MemorySessionStore(),
      signal: new AbortController().signal,
    }
  }
  return { world, stubs, devices, connector, loginContext }
}
