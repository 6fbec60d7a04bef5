/**
 * The sandbox connector's reading of what the account's owner does on another device: an `out` message in
 * an update is the owner's (`fromMe`), its chat's person (`peer`) is the customer the chat is with, and an
 * edit of it is the owner's too — what the core needs to relay it into the customer's Open Lines chat.
 */
import { describe, expect, test } from 'bun:test'
import { toAccountId } from '../../src/bridge/ids.ts'
import { toRemoteEvents, type UpdateFrame } from '../../src/connectors/sandbox/updates.ts'

const accountId = toAccountId('0b6a1c5e-8d1f-4c39-9a51-0d1f2f3a4b5c')
const noFiles = () => Promise.reject(new Error('no files here'))
const message = (out: boolean, extra: Record<string, unknown> = {}) => ({
  id: 7,
  chatId: 5000001,
  out,
  date: 1773266000000,
  text: 'hello',
  ...extra,
})
const events = (frame: UpdateFrame) => toRemoteEvents(accountId, frame, noFiles)

describe('sandbox updates: the owner on another device', () => {
  test('an out message.new is the owner’s, with the customer as the chat’s person', () => {
    const [event] = events({ type: 'message.new', seq: 1, message: message(true), from: { id: 1000001 } })
    expect(event).toMatchObject({
      type: 'message',
      chat: { chatId: '5000001' },
      sender: { userId: `me:${accountId}`, fromMe: true },
      peer: '5000001',
      text: 'hello',
    })
  })

  test('a customer’s message names no peer; an edit is the owner’s only when the message is out', () => {
    const [customer] = events({ type: 'message.new', seq: 2, message: message(false), from: { id: 5000001 } })
    expect(customer).toMatchObject({ sender: { userId: '5000001', fromMe: false } })
    expect(customer).not.toHaveProperty('peer')
    const [ownEdit] = events({
      type: 'message.edit',
      seq: 3,
      message: message(true, { editDate: 1773266001000 }),
    })
    expect(ownEdit).toMatchObject({ type: 'edit', sender: { fromMe: true }, text: 'hello' })
    const [customerEdit] = events({ type: 'message.edit', seq: 4, message: message(false) })
    expect(customerEdit).toMatchObject({ type: 'edit', sender: { userId: '5000001', fromMe: false } })
  })
})
