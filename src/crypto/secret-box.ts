/**
 * @module The interface for secrets at rest (PRIVACY S4): Bitrix24 tokens, messenger sessions, MAX bot tokens
 * and phone numbers are sealed by the application before they reach PostgreSQL.
 */

export interface SecretBox {
  /** Id of the key new data is sealed with (the newest of the ring). */
  readonly activeKeyId: string
  /** AES-256-GCM with a fresh data key per value; `context` is bound as associated data (e.g. a table.column). */
  seal(plain: Uint8Array | string, context: string): Buffer
  /** Throws when the ciphertext was altered, sealed for another context, or its key is not in the ring. */
  open(sealed: Uint8Array, context: string): Buffer
  openText(sealed: Uint8Array, context: string): string
  /** Id of the key a sealed value was made with (rotation finds what still needs re-sealing). */
  keyIdOf(sealed: Uint8Array): string
}
