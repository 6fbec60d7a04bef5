/**
 * @module The messenger connectors this process can run, built from the configuration. The sandbox one is on
 * when `SANDBOX_URL` is set; MAX whenever the process has storage (its webhook updates live in the database);
 * Telegram when `TELEGRAM_API_ID`/`TELEGRAM_API_HASH` are set and the process has storage (its sessions live
 * in the database). An account whose messenger has no connector here is left alone (another instance may
 * have it).
 */
import type { ConnectorName, MessengerConnector } from '../bridge/connector.ts'
import type { Config } from '../config/load.ts'
import { createMaxConnector, type MaxServices } from '../connectors/max/wiring.ts'
import { SandboxConnector } from '../connectors/sandbox/index.ts'
import { createTelegramConnector, type TelegramServices } from '../connectors/telegram/wiring.ts'

export type ConnectorRegistry = ReadonlyMap<ConnectorName, MessengerConnector>

export function createConnectorRegistry(
  config: Pick<Config, 'sandboxUrl' | 'max' | 'telegram'>,
  services?: { max: MaxServices; telegram?: TelegramServices },
): ConnectorRegistry {
  const registry = new Map<ConnectorName, MessengerConnector>()
  if (config.sandboxUrl) registry.set('sandbox', new SandboxConnector({ baseUrl: config.sandboxUrl }))
  if (services) registry.set('max', createMaxConnector(config, services.max))
  if (config.telegram && services?.telegram) {
    registry.set('telegram', createTelegramConnector(config.telegram, services.telegram))
  }
  return registry
}
