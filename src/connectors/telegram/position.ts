/**
 * @module Holding Telegram's update position until the core has committed what came before it
 * (`PositionHolding`). mtcute dispatches an update's events synchronously and only then saves the new
 * pts/qts/date/seq into the storage's key-value repository (`updates_*` keys; reference §3.4). The gate
 * numbers every update handed to the adapter as it is dispatched; a write of an `updates_*` key made after
 * update N waits until updates 1…N are acked, and goes out then, in order. A crash meanwhile leaves the
 * older position in storage, so the catch-up after the restart brings the unacked updates again.
 */
import type { ITelegramStorageProvider } from '@mtcute/core'

const POSITION_PREFIX = 'updates_'

interface HeldWrite {
  /** Written after this update was dispatched: waits for it and everything before it. */
  after: number
  key: string
  value: Uint8Array
}

export class PositionGate {
  #dispatched = 0
  readonly #unacked = new Set<number>()
  readonly #held: HeldWrite[] = []
  #flushing: Promise<void> = Promise.resolve()

  constructor(private readonly onError: (error: unknown) => void = () => {}) {}

  /** Numbers an update as mtcute dispatches it. @returns its ack (idempotent). */
  dispatched(): () => void {
    const n = ++this.#dispatched
    this.#unacked.add(n)
    let done = false
    return () => {
      if (done) return
      done = true
      this.#unacked.delete(n)
      this.#flush()
    }
  }

  /** The provider with its position writes held back; everything else passes straight through. */
  wrap(storage: ITelegramStorageProvider): ITelegramStorageProvider {
    const { kv } = storage
    return {
      ...storage,
      kv: {
        get: (key) => kv.get(key),
        delete: (key) => kv.delete(key),
        deleteAll: () => kv.deleteAll(),
        set: (key, value) => {
          if (!key.startsWith(POSITION_PREFIX) || this.#unacked.size === 0) return kv.set(key, value)
          this.#held.push({ after: this.#dispatched, key, value })
          this.#target = kv
          return undefined
        },
      },
    }
  }

  /** A new client starts from the stored position: what the old one held back is dropped (and redelivered). */
  reset(): void {
    this.#held.length = 0
    this.#unacked.clear()
  }

  /** Position writes still waiting for acks. */
  get held(): number {
    return this.#held.length
  }

  #target: ITelegramStorageProvider['kv'] | undefined

  #flush(): void {
    const oldest = this.#unacked.size === 0 ? Number.POSITIVE_INFINITY : Math.min(...this.#unacked)
    const ready: HeldWrite[] = []
    while (this.#held.length > 0 && this.#held[0]!.after < oldest) ready.push(this.#held.shift()!)
    const kv = this.#target
    if (ready.length === 0 || !kv) return
    this.#flushing = this.#flushing
      .then(async () => {
        for (const write of ready) await kv.set(write.key, write.value)
      })
      .catch(this.onError)
  }
}
