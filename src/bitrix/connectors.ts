/**
 * @module The Open Lines connectors Olchat registers on every portal (`imconnector.register`), one per messenger.
 * Ids are lowercase `[a-z0-9_]` with a vendor prefix (reference/bitrix24.md §5.2: the portal lowercases ids and
 * refuses dots). The sandbox connector is registered only when the sandbox messenger is enabled (tests, demos).
 */

export type MessengerKind = 'telegram' | 'max' | 'sandbox'

export interface ConnectorDefinition {
  messenger: MessengerKind
  id: string
  name: string
  /** Tile colour in Contact Center. */
  color: string
  /** SVG markup; sent URL-encoded as a `data:image/svg+xml,` URL (§5.2 ICON.DATA_IMAGE). */
  svg: string
}

const TELEGRAM_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path fill="#fff" d="M13 31.5 48.5 17.8c1.6-.6 3 .4 2.5 2.9l-6 28.4c-.4 2-1.6 2.5-3.3 1.6l-9.2-6.8-4.4 4.3c-.5.5-.9.9-1.9.9l.7-9.4 17.1-15.4c.7-.7-.2-1-1.1-.4L21.8 37.2l-9.1-2.8c-2-.6-2-2 .3-2.9z"/></svg>'
const MAX_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path fill="#fff" d="M32 10c12.2 0 22 9.4 22 21.5S44.2 53 32 53c-3.4 0-6.6-.7-9.4-2.1L12 54l3.2-9.6C12.6 41 11 36.4 11 31.5 11 19.4 19.8 10 32 10zm-8 14v16h4.5v-8.5L32 37l3.5-5.5V40H40V24h-4.3L32 30l-3.7-6z"/></svg>'
const SANDBOX_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect x="14" y="14" width="36" height="36" rx="8" fill="#fff"/></svg>'

export const connectors: Record<MessengerKind, ConnectorDefinition> = {
  telegram: {
    messenger: 'telegram',
    id: 'olchat_telegram',
    name: 'Telegram (Olchat)',
    color: '#2AABEE',
    svg: TELEGRAM_SVG,
  },
  max: { messenger: 'max', id: 'olchat_max', name: 'MAX (Olchat)', color: '#7B4DFF', svg: MAX_SVG },
  sandbox: {
    messenger: 'sandbox',
    id: 'olchat_sandbox',
    name: 'Sandbox (Olchat)',
    color: '#8A94A6',
    svg: SANDBOX_SVG,
  },
}

export function connectorById(id: string): ConnectorDefinition | undefined {
  const lower = id.toLowerCase()
  return Object.values(connectors).find((c) => c.id === lower)
}

export function iconDataUrl(svg: string): string {
  return `data:image/svg+xml,${encodeURIComponent(svg)}`
}
