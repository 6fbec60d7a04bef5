/**
 * @module The Telegram connector built from the configuration and the process's storage: mtcute clients over
 * the network (`client-factory.ts`) with each account's session in the `telegram_*` tables (sealed) and its
 * message log in `telegram_message_chats`.
 */
import type { Repositories } from '../../../storage/repos/index.ts'
import type { TelegramConfig } from '../../config/load.ts'
import type { Logger } from '../../log/logger.ts'
import { networkClientFactory } from './client-factory.ts'
import { TelegramConnector } from './connector.ts'
import { storedMessageLog } from './message-log.ts'
import { telegramStorage } from './storage.ts'

export interface TelegramServices {
  repos: Pick<Repositories, 'telegramSessions'>
  log: Logger
}

export function createTelegramConnector(
  config: TelegramConfig,
  services: TelegramServices,
): TelegramConnector {
  const sessions = services.repos.telegramSessions
  const log = services.log.child({ component: 'telegram' })
  return new TelegramConnector({
    storage: (accountId) => telegramStorage(sessions, accountId),
    createClient: networkClientFactory({ apiId: config.apiId, apiHash: config.apiHash, logger: log }),
    device: config.device,
    messages: (accountId) => storedMessageLog(sessions.messageChats, accountId),
    log,
  })
}
