/**
 * @module What the sandbox connector keeps in the account's sealed session store (`account_sessions`).
 */

export const SESSION_KEYS = {
  /** The session token (the sandbox's auth key): sealed, deleted on disconnect (R1). */
  token: 'sandbox.session',
  /** The last update `seq` handed to the core, as decimal text: where the next connect resumes. */
  seq: 'sandbox.seq',
} as const

export const decodeText = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value)
