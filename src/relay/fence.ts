/**
 * @module The fencing check of the relay's writes (issue 4, scale-out): each transaction that records what
 * a messenger or an operator did first checks, inside the same transaction, that this process still holds
 * the account's lease with the token it started with (`account_leases.assertFence` share-locks the row until
 * commit). A process that was frozen past its lease and resumed cannot commit on behalf of the account; the
 * new owner redoes the work (idempotency keys make that safe).
 */
import type { Queryable } from '../../storage/repos/common.ts'

/** Throws `LeaseLostError` when the lease is gone; called first inside each relay transaction. */
export type Fence = (tx: Queryable) => Promise<void>
