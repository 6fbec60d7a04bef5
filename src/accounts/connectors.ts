/**
 * @module The messenger connectors this process can run, built from the configuration. The sandbox one is on
 * when `SANDBOX_URL` is set; Telegram and MAX take their slots here as they land. An account whose messenger
 * has no connector here is left alone (another instance may have it).
 */
import type { ConnectorName, MessengerConnector } from '../bridge/connector.ts'
import type { Config } from '../config/load.ts'
import { SandboxConnector } from '../connectors/sandbox/index.ts'

export type ConnectorRegistry = ReadonlyMap<ConnectorName, MessengerConnector>

export function createConnectorRegistry(config: Pick<Config, 'sandboxUrl'>): ConnectorRegistry {
  const registry = new Map<ConnectorName, MessengerConnector>()
  if (config.sandboxUrl) registry.set('sandbox', new SandboxConnector({ baseUrl: config.sandboxUrl }))
  return registry
}
