import { describe, expect, test } from 'bun:test'
import {
  BitrixError,
  BitrixTransportError,
  PortalInactiveError,
  PortalNeedsReauthError,
} from '../../../src/bitrix/api.ts'
import { classifyFailure } from '../../../src/bitrix/portal-sender/failures.ts'
import { groupRows } from '../../../src/bitrix/portal-sender/groups.ts'
import { backoffMs } from '../../../src/bitrix/portal-sender/options.ts'
import { parsePayload } from '../../../src/bitrix/portal-sender/payloads.ts'
import { readCallResult } from '../../../src/bitrix/portal-sender/results.ts'

describe('payloads', () => {
  test('valid bodies of every kind parse; numeric ids become strings', () => {
    const chat = { id: 77 }
    const user = { id: 42, name: 'Ivan' }
    expect(parsePayload('message', { chat, user, message: { id: 1001, date: 1, text: 'Hi' } })).toEqual({
      ok: true,
      kind: 'message',
      payload: {
        chat: { id: '77' },
        user: { id: '42', name: 'Ivan' },
        message: { id: '1001', date: 1, text: 'Hi' },
      },
    })
    const file = { objectKey: 'p/1/a/2/x.jpg', name: 'x.jpg' }
    expect(parsePayload('message', { chat, user, message: { id: 1, date: 1, files: [file] } }).ok).toBe(true)
    expect(parsePayload('edit', { chat, user, message: { id: 1, text: '' } }).ok).toBe(true)
    expect(parsePayload('delete', { chat, user, message: { id: 1 } }).ok).toBe(true)
    const status = { im: { chatId: 1, messageId: 2 }, messageIds: ['a'], chat, date: 5 }
    expect(parsePayload('status', status).ok).toBe(true)
    expect(parsePayload('read', { chat, messageIds: ['a'] }).ok).toBe(true)
  })

  test('invalid bodies name the paths, never the values', () => {
    const cases: [Parameters<typeof parsePayload>[0], unknown, string][] = [
      ['message', null, '(root)'],
      ['message', { chat: { id: '' }, user: { id: 1 }, message: { id: 1, date: 1, text: 'x' } }, 'chat.id'],
      [
        'message',
        { chat: { id: 1 }, user: { id: 1 }, message: { id: 1, date: -5, text: 'x' } },
        'message.date',
      ],
      [
        'message',
        { chat: { id: 1 }, user: { id: 1 }, message: { id: 1, date: 1, files: [] } },
        'text or files',
      ],
      [
        'message',
        { chat: { id: 1, url: 'secret-not-a-url' }, user: { id: 1 }, message: { id: 1, date: 1, text: 'x' } },
        'chat.url',
      ],
      ['status', { im: { chatId: 1 }, messageIds: [], chat: { id: 1 }, date: 1 }, 'im.messageId'],
      ['read', { chat: { id: 1 }, messageIds: [] }, 'messageIds'],
    ]
    for (const [kind, body, path] of cases) {
      const parsed = parsePayload(kind, body)
      expect(parsed.ok).toBe(false)
      if (!parsed.ok) {
        expect(parsed.error).toContain(path)
        expect(parsed.error).not.toContain('secret')
      }
    }
  })
})

describe('groupRows', () => {
  /** `m`/`e`/`s` = message/edit/status, followed by the chat letter: `mA eA sB`. */
  const rows = (spec: string) =>
    spec.split(' ').map((token, i) => ({
      i,
      kind: ({ m: 'message', e: 'edit', s: 'status' } as const)[token[0] as 'm' | 'e' | 's'],
      chat: token[1] ?? null,
      files: 0,
    }))
  const ids = (groups: Array<Array<{ i: number }>>) => groups.map((g) => g.map((r) => r.i))

  test('one chat: runs of one kind in queue order, capped at the batch size', () => {
    expect(ids(groupRows(rows('mA mA mA mA mA eA eA mA mA'), 3, 10))).toEqual([
      [0, 1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ])
  })

  test('rows of other chats and statuses do not split calls; each chat keeps its order', () => {
    // Customer messages of three chats interleaved with delivery statuses, as a busy queue looks.
    const groups = groupRows(rows('mA sA mB sB mC eA mA sC mB'), 25, 10)
    expect(ids(groups)).toEqual([[0, 2, 4, 8], [1, 3, 7], [5], [6]])
    // Chat A: message 0, edit 5, message 6 — in three calls, in that order.
  })

  test('files cap a call; a row with more files than the cap still goes, alone', () => {
    const withFiles = [3, 3, 12, 1, 5, 5].map((files, i) => ({
      i,
      kind: 'message' as const,
      files,
      chat: 'A',
    }))
    expect(ids(groupRows(withFiles, 25, 10))).toEqual([[0, 1], [2], [3, 4], [5]])
  })
})

describe('readCallResult', () => {
  test('per-item results, keys in any case, session CHAT_ID, missing items fail', () => {
    const answer = {
      SUCCESS: true,
      DATA: {
        RESULT: [
          { SUCCESS: true, session: { ID: '1', CHAT_ID: '1767' } },
          { success: 'Y' },
          { SUCCESS: false, ERRORS: ['IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA'] },
          { SUCCESS: false, ERRORS: { a: { b: 'deep' } } },
        ],
      },
    }
    expect(readCallResult('message', answer, 5)).toEqual({
      kind: 'items',
      items: [
        { ok: true, portalChatId: '1767' },
        { ok: true },
        { ok: false, error: 'IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA' },
        { ok: false, error: 'deep' },
        { ok: false, error: 'the portal returned no result for this item' },
      ],
    })
  })

  test('status calls succeed as a whole; SUCCESS:false in a 200 is a refused call', () => {
    expect(readCallResult('status', { SUCCESS: true, DATA: [] }, 2)).toEqual({
      kind: 'items',
      items: [{ ok: true }, { ok: true }],
    })
    expect(readCallResult('message', { SUCCESS: false, ERRORS: ['NOT_ACTIVE_LINE'] }, 1)).toMatchObject({
      kind: 'refused',
      code: 'NOT_ACTIVE_LINE',
    })
    expect(readCallResult('message', 'nonsense', 1)).toMatchObject({ kind: 'refused' })
  })
})

describe('classifyFailure', () => {
  const b24 = (code: string, status: number) => new BitrixError(code, '', status, 'imconnector.send.messages')
  test('what may have run and what cannot have', () => {
    expect(classifyFailure(b24('NOT_ACTIVE_LINE', 400))).toBe('line-inactive')
    expect(classifyFailure(new PortalNeedsReauthError('p'))).toBe('portal-unavailable')
    expect(classifyFailure(new PortalInactiveError('p', 'uninstalled'))).toBe('portal-unavailable')
    expect(classifyFailure(b24('QUERY_LIMIT_EXCEEDED', 503))).toBe('not-run')
    expect(classifyFailure(b24('OPERATION_TIME_LIMIT', 429))).toBe('not-run')
    expect(classifyFailure(b24('expired_token', 401))).toBe('not-run')
    expect(classifyFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe('not-run')
    expect(classifyFailure(new Error('fetch failed', { cause: { code: 'ENOTFOUND' } }))).toBe('not-run')
    expect(classifyFailure(b24('ERROR_ARGUMENT', 400))).toBe('rejected')
    expect(classifyFailure(b24('INTERNAL_SERVER_ERROR', 500))).toBe('in-doubt')
    const m = 'imconnector.send.messages'
    expect(classifyFailure(new BitrixTransportError('CONNECTION_REFUSED', '', m, false))).toBe('not-run')
    expect(classifyFailure(new BitrixTransportError('TIMEOUT', '', m, true))).toBe('in-doubt')
    expect(classifyFailure(new BitrixTransportError('BAD_GATEWAY', '', m, true, 502))).toBe('in-doubt')
    expect(classifyFailure(Object.assign(new Error('timeout'), { name: 'TimeoutError' }))).toBe('in-doubt')
    expect(classifyFailure(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('in-doubt')
  })
})

test('backoff doubles up to the cap, with bounded jitter', () => {
  const retry = { baseMs: 1000, maxMs: 8000, jitter: 0.2 }
  expect([0, 1, 2, 3, 4, 40].map((n) => backoffMs(n, retry, () => 0.5))).toEqual([
    1000, 2000, 4000, 8000, 8000, 8000,
  ])
  expect(backoffMs(0, retry, () => 0)).toBe(800)
  expect(backoffMs(0, retry, () => 1)).toBe(1200)
})
