/**
 * @module The sandbox connector's public surface.
 */
export { SandboxClient } from './client.ts'
export { SandboxConnector, type SandboxConnectorOptions } from './connector.ts'
export { LoginFloodWaitError } from './errors.ts'
