/**
 * @module What the Telegram connector keeps in the account's generic session store (`account_sessions`),
 * beside mtcute's own tables: the id of the user a login completed for, the device parameters it used
 * (`device.ts`), and a completed login's mtcute storage until the account's client moves it into those
 * tables (`staging.ts`). The store is cleared on disconnect, so a client that finds no user knows its mtcute
 * rows are leftovers and must not be used.
 */
export const SESSION_KEYS = {
  user: 'telegram.user',
  device: 'telegram.device',
  staged: 'telegram.staged',
} as const
