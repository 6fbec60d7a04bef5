/**
 * @module How production builds an mtcute client: core's `TelegramClient` (not `@mtcute/bun`'s, whose
 * `start()` prompts on stdin — reference §2.5) with Bun's transport and crypto, our platform (no exit hooks,
 * our logger), our network middlewares (`middlewares.ts`), the app credentials, and the device parameters
 * Telegram shows in the account's session list — the ones the account logged in with, so a reconnect never
 * looks like a new device.
 */
import type { ITelegramStorageProvider } from '@mtcute/core'
import { TelegramClient } from '@mtcute/core/client.js'
import type { Logger } from '../../log/logger.ts'
import type { TelegramDevice } from './device.ts'
import { telegramMiddlewares } from './middlewares.ts'
import { bunRuntime } from './platform.ts'

export interface TelegramAppOptions {
  apiId: number
  apiHash: string
  logger?: Logger
}

export type TelegramClientFactory = (
  storage: ITelegramStorageProvider,
  device: TelegramDevice,
) => TelegramClient

export function networkClientFactory(app: TelegramAppOptions): TelegramClientFactory {
  return (storage, device) =>
    new TelegramClient({
      apiId: app.apiId,
      apiHash: app.apiHash,
      storage,
      ...bunRuntime(app.logger),
      initConnectionOptions: {
        deviceModel: device.deviceModel,
        systemVersion: device.systemVersion,
        appVersion: device.appVersion,
        langCode: device.langCode,
        systemLangCode: device.langCode,
      },
      network: { middlewares: telegramMiddlewares() },
      // Catch up from the stored update state after a restart (reference §3.4).
      updates: { catchUp: true },
      storageOptions: { cleanup: false },
    })
}
