import { describe, expect, test } from 'bun:test'
import {
  canDownloadFiles,
  canNotifyTyping,
  type FileDownloading,
  hasContactAvatars,
  reportsReadReceipts,
} from '../../src/bridge/capabilities.ts'
import {
  dispositionOf,
  FloodWaitError,
  NeedsLoginError,
  PermanentSendError,
  TransientNetworkError,
  UnsupportedError,
} from '../../src/bridge/errors.ts'
import { chatKeyString, toAccountId, toRemoteChatId, toRemoteFileRef } from '../../src/bridge/ids.ts'
import { isChatEvent, type RemoteEvent } from '../../src/bridge/remote-event.ts'
import { FakeClient } from '../actors/fake-client.ts'

const accountId = toAccountId('a1')

class FileClient extends FakeClient implements FileDownloading {
  async openFile() {
    return { stream: new Blob(['x']).stream(), size: 1 }
  }
}

describe('connector contract: errors', () => {
  test('each typed error names what the core does with it', () => {
    expect(dispositionOf(new NeedsLoginError('revoked'))).toBe('needs-login')
    expect(dispositionOf(new FloodWaitError(42))).toBe('flood-wait')
    expect(dispositionOf(new TransientNetworkError('reset'))).toBe('transient')
    expect(dispositionOf(new PermanentSendError('USER_IS_BLOCKED'))).toBe('permanent')
    expect(dispositionOf(new UnsupportedError('edit'))).toBe('permanent')
    expect(dispositionOf(new Error('who knows'))).toBe('transient')
    expect(dispositionOf('not even an error')).toBe('transient')
  })

  test('errors keep their details and cause', () => {
    const cause = new Error('FLOOD_WAIT_42')
    const error = new FloodWaitError(42, { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ name: 'FloodWaitError', seconds: 42, cause })
    expect(new NeedsLoginError('bad-credentials').reason).toBe('bad-credentials')
    expect(new PermanentSendError('CHAT_WRITE_FORBIDDEN').message).toBe('CHAT_WRITE_FORBIDDEN')
  })
})

describe('connector contract: optional capabilities', () => {
  test('type guards find only what a client implements', () => {
    const base = new FakeClient(accountId)
    expect([
      canDownloadFiles(base),
      canNotifyTyping(base),
      hasContactAvatars(base),
      reportsReadReceipts(base),
    ]).toEqual([false, false, false, false])
    const files = new FileClient(accountId)
    expect(canDownloadFiles(files)).toBe(true)
    if (canDownloadFiles(files)) expect(typeof files.openFile).toBe('function')
    const receipts = Object.assign(new FakeClient(accountId), { reportsReadReceipts: true as const })
    expect(reportsReadReceipts(receipts)).toBe(true)
  })
})

describe('connector contract: ids and events', () => {
  test('chat keys print as account:chat, and chat events are told from the others', () => {
    const chat = { accountId, chatId: toRemoteChatId('c1') }
    expect(chatKeyString(chat)).toBe('a1:c1')
    const events: RemoteEvent[] = [
      { type: 'delete', accountId, chat, messageIds: [], timestamp: new Date(0) },
      { type: 'contact', accountId, contact: { userId: 'u' as never }, timestamp: new Date(0) },
      { type: 'connection', accountId, state: 'connected', timestamp: new Date(0) },
    ]
    expect(events.map(isChatEvent)).toEqual([true, false, false])
    expect(toRemoteFileRef('f')).toBe('f' as never)
  })
})
