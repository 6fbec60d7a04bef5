/**
 * @module Counters behind `GET /_emulator/stats`: what the bots asked and sent, what was delivered, which
 * faults fired. Verdicts of end-to-end tests come from here, so every counter has one meaning (README.md).
 */

export class Stats {
  private readonly counters = new Map<string, number>()
  /** Per dialog: keys of messages seen, for the exact-repeat duplicate heuristic. */
  private readonly seen = new Map<number, Set<string>>()

  add(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by)
  }

  request(method: string, endpoint: string): void {
    this.add('requests_total')
    this.add(`requests:${method} ${endpoint}`)
  }

  /**
   * A bot message arrived. It counts as a duplicate when its (chat, text, attachment identities) key has been
   * seen in that chat before — exact repeats only, no time window: a bridge that resends after a lost answer
   * produces exactly this, while two different customers' replies with equal words land in different chats.
   * Tests that assert zero duplicates must send distinct texts.
   */
  botMessage(chatId: number, text: string, attachmentKeys: string[]): void {
    this.add('messages_from_bots')
    const key = JSON.stringify([text, attachmentKeys])
    let keys = this.seen.get(chatId)
    if (!keys) {
      keys = new Set()
      this.seen.set(chatId, keys)
    }
    if (keys.has(key)) this.add('duplicate_messages')
    else keys.add(key)
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {
      requests_total: 0,
      messages_from_bots: 0,
      messages_edited_by_bots: 0,
      messages_deleted_by_bots: 0,
      duplicate_messages: 0,
      updates_queued: 0,
      updates_polled: 0,
      webhook_deliveries: 0,
      webhook_failures: 0,
      webhook_retries: 0,
      webhook_dropped: 0,
      webhook_unsubscribed: 0,
      webhook_duplicates_sent: 0,
      rate_limited: 0,
      unauthorized: 0,
      success_false: 0,
      server_errors: 0,
      attachment_not_ready: 0,
      uploads: 0,
      downloads: 0,
      unknown_updates_injected: 0,
    }
    for (const [k, v] of [...this.counters].sort(([a], [b]) => a.localeCompare(b))) out[k] = v
    return out
  }

  reset(): void {
    this.counters.clear()
    this.seen.clear()
  }
}
