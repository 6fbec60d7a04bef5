/**
 * @module The Bitrix24 application as one hono sub-app with the fixed paths admins paste into Bitrix24:
 * `POST /bitrix/install` (install handler and app page), `POST /bitrix/events` (every event) and
 * `POST /bitrix/placement` (connector settings). Mount it with `createApp({ routes: [...] })` and run
 * `startInboxWorker(deps)` beside it (pass its `wake` as `onEventStored`).
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { BitrixAppDeps } from './deps.ts'
import { eventsHandler } from './events.ts'
import { installHandler } from './install.ts'
import { placementHandler } from './placement.ts'

export type { BitrixAppDeps, BitrixAppOptions, CallWithToken, CallWithTokenRequest } from './deps.ts'
export { acceptEvent, type StoredEvent } from './events.ts'
export {
  createInboxProcessor,
  type InboxProcessor,
  type InboxWorker,
  startInboxWorker,
} from './inbox-worker.ts'
export type { OperatorDeliveryPayload, OperatorFile } from './operator-messages.ts'
export { purgePortal } from './purge.ts'
export { BOUND_EVENTS, CONNECTOR_FLAGS, setUpPortal } from './setup.ts'

export function createBitrixRoutes(deps: BitrixAppDeps): Hono {
  const limit = bodyLimit({
    maxSize: deps.options?.maxBodyBytes ?? 2 * 1024 * 1024,
    onError: (c) => c.json({ error: 'payload_too_large' }, 413),
  })
  return new Hono()
    .post('/bitrix/install', limit, installHandler(deps))
    .post('/bitrix/events', limit, eventsHandler(deps))
    .post('/bitrix/placement', limit, placementHandler(deps))
}
