/**
 * @module The MAX connector's public surface.
 */
export { MaxClient } from './client.ts'
export { MaxConnector, type MaxConnectorOptions } from './connector.ts'
export { LoginFloodWaitError } from './errors.ts'
export type { ReceiveMode, WebhookSetup } from './receiver.ts'
export { SESSION_KEYS } from './session.ts'
export type { MaxUpdateStore, WakeSubscribe } from './webhook-feed.ts'
