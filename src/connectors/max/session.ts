/**
 * @module What the MAX connector keeps in the account's sealed session store (`account_sessions`, R1: gone
 * on disconnect). The bot token itself is the account's sealed `credentials`, not part of the session.
 */

export const SESSION_KEYS = {
  /** The bot's profile from `GET /me` at login (JSON `BotProfile`): tells the bot's own messages apart. */
  bot: 'max.bot',
  /** Long polling: the `marker` of the last batch handed over, as decimal text (int64: never a JS number). */
  marker: 'max.marker',
  /** Webhook mode: the secret MAX echoes in `X-Max-Bot-Api-Secret` (reference §4.2). */
  webhookSecret: 'max.webhook.secret',
  /** Dialogs the bot has (JSON `{chatId: userId}`): `GET /chats` is gone (§3.2), so we record them. */
  dialogs: 'max.dialogs',
  /** Prefix of the deep-link payload of a dialog's `bot_started` (`max.start.<chatId>`, §5.6). */
  startPayload: 'max.start.',
} as const

export interface BotProfile {
  userId: number
  name: string
  username?: string
  avatarUrl?: string
}

export const decodeText = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value)
