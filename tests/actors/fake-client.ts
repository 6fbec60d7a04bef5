/**
 * @module An in-memory `MessengerClient` for the machine unit tests: records calls, and reports on
 * `connect()` whatever connection state the test scripted. Not a connector: the sandbox connector is the real
 * test double.
 */
import type { MessengerClient, RemoteEventListener, SentMessage } from '../../src/bridge/client.ts'
import { type AccountId, toRemoteMessageId } from '../../src/bridge/ids.ts'
import type { ConnectionState, RemoteEvent } from '../../src/bridge/remote-event.ts'

export type ConnectOutcome = { state: ConnectionState; floodWaitSeconds?: number } | 'silent'

export class FakeClient implements MessengerClient {
  readonly calls: string[] = []
  readonly listeners = new Set<RemoteEventListener>()
  /** Outcomes of the next `connect()` calls, first first; when empty, `connected`. */
  readonly outcomes: ConnectOutcome[] = []
  logoutError: Error | undefined

  constructor(readonly accountId: AccountId) {}

  async connect() {
    this.calls.push('connect')
    const outcome = this.outcomes.shift() ?? { state: 'connected' }
    if (outcome !== 'silent') this.report(outcome.state, outcome.floodWaitSeconds)
  }

  async disconnect() {
    this.calls.push('disconnect')
  }

  async logoutRemote() {
    this.calls.push('logoutRemote')
    if (this.logoutError) throw this.logoutError
  }

  async send(): Promise<SentMessage> {
    this.calls.push('send')
    return { messageIds: [toRemoteMessageId('1')], timestamp: new Date(0) }
  }

  async edit() {
    this.calls.push('edit')
  }

  async delete() {
    this.calls.push('delete')
  }

  async markRead() {
    this.calls.push('markRead')
  }

  async syncContacts() {
    this.calls.push('syncContacts')
    return []
  }

  onEvent(listener: RemoteEventListener) {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  emit(event: RemoteEvent) {
    for (const listener of this.listeners) listener(event)
  }

  report(state: ConnectionState, floodWaitSeconds?: number) {
    this.emit({
      type: 'connection',
      accountId: this.accountId,
      state,
      floodWaitSeconds,
      timestamp: new Date(0),
    })
  }

  count(call: string) {
    return this.calls.filter((c) => c === call).length
  }
}
