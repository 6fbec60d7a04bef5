/**
 * The MAX connector's pure parts: update schemas and identities, updates → remote events, markup →
 * BB-codes, attachments and vCards, text splitting, the request budget, the multipart body.
 */
import { describe, expect, test } from 'bun:test'
import { toAccountId, toRemoteFileRef } from '../../src/bridge/ids.ts'
import type { RemoteContactEvent, RemoteMessageEvent } from '../../src/bridge/remote-event.ts'
import { loadConfig } from '../../src/config/load.ts'
import { decodeFileRef, parseVcard, readAttachments } from '../../src/connectors/max/attachments.ts'
import { RequestBudget } from '../../src/connectors/max/budget.ts'
import { markupToBbCode } from '../../src/connectors/max/markup.ts'
import { markerOf } from '../../src/connectors/max/polling.ts'
import { splitText } from '../../src/connectors/max/text-split.ts'
import { mapUpdate, parseUpdate } from '../../src/connectors/max/updates.ts'
import { multipartBody, uploadTypeFor } from '../../src/connectors/max/uploads.ts'

const accountId = toAccountId('5f0c6a1e-0000-4000-8000-000000000001')
const noOpen = async () => {
  throw new Error('not opened in these tests')
}
const ctx = { accountId, botUserId: 229229229, open: noOpen }
/** A fixture whose message is reshaped freely. */
type Reshaped = { message: { body: Record<string, unknown>; link?: unknown } }

// Shapes from reference/max-bot-api.md §4.3 (adapted from the official Go client's fixtures).
const created = {
  update_type: 'message_created',
  timestamp: 1775025604499,
  user_locale: 'ru',
  message: {
    sender: { user_id: 123456789, first_name: 'John', last_name: 'Doe', username: null, is_bot: false },
    recipient: { chat_id: 182182182, chat_type: 'dialog', user_id: 229229229 },
    timestamp: 1775053255737,
    body: {
      mid: 'mid.ffffbdb48e6c3775019d496b34394b84',
      seq: 1,
      text: 'Здравствуйте',
      attachments: [],
      markup: [],
    },
  },
}

describe('parseUpdate', () => {
  test('a handled type parses; its key is type + mid, never seq', () => {
    // seq above 2^53 as in the Go fixtures: JSON.parse rounds it, the key does not care.
    const raw = JSON.parse(JSON.stringify(created).replace('"seq":1', '"seq":116327994376978687'))
    const parsed = parseUpdate(raw)
    expect(parsed).toMatchObject({
      kind: 'handled',
      key: 'message_created:mid.ffffbdb48e6c3775019d496b34394b84',
    })
  })

  test('edits of one message get distinct keys; a repeat of one edit the same key', () => {
    const edit = { ...created, update_type: 'message_edited' }
    const a = parseUpdate(edit)
    const b = parseUpdate({ ...edit, timestamp: edit.timestamp + 1 })
    expect(a.kind === 'handled' && b.kind === 'handled' && a.key !== b.key).toBe(true)
    expect(parseUpdate(structuredClone(edit))).toEqual(a)
  })

  test('unknown types and unreadable shapes are told apart, with paths but no values', () => {
    expect(parseUpdate({ update_type: 'chat_title_changed', timestamp: 1, chat_id: 1, title: 'x' })).toEqual({
      kind: 'unknown',
      type: 'chat_title_changed',
    })
    const broken = parseUpdate({
      update_type: 'message_created',
      timestamp: 1,
      message: { body: { text: 'secret' } },
    })
    expect(broken.kind).toBe('malformed')
    expect(JSON.stringify(broken)).not.toContain('secret')
    expect(parseUpdate([1, 2]).kind).toBe('malformed')
  })
})

describe('mapUpdate', () => {
  test('message_created from a customer in a dialog → message with chat = dialog id', () => {
    const parsed = parseUpdate(created)
    if (parsed.kind !== 'handled') throw new Error('not handled')
    const { events, dialog } = mapUpdate(ctx, parsed.update)
    expect(events).toHaveLength(1)
    const event = events[0] as RemoteMessageEvent
    expect(event).toMatchObject({
      type: 'message',
      chat: { accountId, chatId: '182182182' },
      messageId: 'mid.ffffbdb48e6c3775019d496b34394b84',
      sender: { userId: '123456789', fromMe: false },
      text: 'Здравствуйте',
      files: [],
    })
    expect(event.timestamp.getTime()).toBe(1775053255737)
    expect(dialog).toMatchObject({ chatId: 182182182, user: { user_id: 123456789 } })
  })

  test("the bot's own messages are fromMe; group chats are not relayed", () => {
    const own = structuredClone(created)
    own.message.sender = { ...own.message.sender, user_id: 229229229, is_bot: true }
    const mine = parseUpdate(own)
    if (mine.kind !== 'handled') throw new Error('not handled')
    expect(mapUpdate(ctx, mine.update).events[0]).toMatchObject({ sender: { fromMe: true } })
    const group = structuredClone(created)
    group.message.recipient = { chat_id: -70801090403050, chat_type: 'chat', user_id: 0 }
    const inGroup = parseUpdate(group)
    if (inGroup.kind !== 'handled') throw new Error('not handled')
    expect(mapUpdate(ctx, inGroup.update)).toMatchObject({ events: [], skipped: ['chat:chat'] })
  })

  test('message_removed → delete by mid; bot_started → contact with the payload kept; bot_stopped → nothing', () => {
    const removed = parseUpdate({
      update_type: 'message_removed',
      timestamp: 1775025604499,
      message_id: 'mid.000000000adf429c019d47b1ce4600ff',
      chat_id: 182182182,
      user_id: 123456789,
    })
    if (removed.kind !== 'handled') throw new Error('not handled')
    expect(mapUpdate(ctx, removed.update).events).toMatchObject([
      { type: 'delete', chat: { chatId: '182182182' }, messageIds: ['mid.000000000adf429c019d47b1ce4600ff'] },
    ])
    const user = { user_id: 123456789, first_name: 'John', last_name: 'Doe', is_bot: false }
    const started = parseUpdate({
      update_type: 'bot_started',
      timestamp: 1,
      chat_id: 182182182,
      user,
      payload: 'crm-lead-42',
    })
    if (started.kind !== 'handled') throw new Error('not handled')
    const mapped = mapUpdate(ctx, started.update)
    expect(mapped.startPayload).toBe('crm-lead-42')
    expect((mapped.events[0] as RemoteContactEvent).contact).toEqual({
      userId: '123456789' as never,
      firstName: 'John',
      lastName: 'Doe',
    })
    const stopped = parseUpdate({ update_type: 'bot_stopped', timestamp: 1, chat_id: 182182182, user })
    if (stopped.kind !== 'handled') throw new Error('not handled')
    expect(mapUpdate(ctx, stopped.update)).toMatchObject({ events: [], skipped: ['event:bot_stopped'] })
  })

  test('attachments: files with refs, contact/location/share as text, keyboards skipped, reply kept', () => {
    const m = structuredClone(created) as unknown as Reshaped
    m.message.body.text = ''
    m.message.link = { type: 'reply', message: { mid: 'mid.earlier', text: 'q' } }
    m.message.body.attachments = [
      {
        type: 'file',
        filename: 'invoice.pdf',
        size: 48211,
        payload: { url: 'https://cdn.example/f', token: 't1' },
      },
      { type: 'image', payload: { photo_id: 1, token: 'p', url: 'https://cdn.example/i' } },
      { type: 'location', latitude: 55.75, longitude: 37.61 },
      {
        type: 'contact',
        payload: {
          vcf_info:
            'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ivan Petrov\r\nTEL;TYPE=cell:79991234567\r\nEND:VCARD\r\n',
          hash: 'h',
          max_info: null,
        },
      },
      { type: 'share', payload: { url: 'https://example.com/a' }, title: 'Example' },
      { type: 'inline_keyboard', payload: { buttons: [] } },
      { type: 'hologram', payload: {} },
    ]
    const parsed = parseUpdate(m)
    if (parsed.kind !== 'handled') throw new Error('not handled')
    const { events, skipped } = mapUpdate(ctx, parsed.update)
    const event = events[0] as RemoteMessageEvent
    expect(event.replyTo).toBe('mid.earlier' as never)
    expect(event.files.map((f) => [f.kind, f.name, f.size])).toEqual([
      ['document', 'invoice.pdf', 48211],
      ['photo', undefined, undefined],
    ])
    expect(decodeFileRef(event.files[0]!.ref)).toEqual({
      type: 'file',
      url: 'https://cdn.example/f',
      token: 't1',
    })
    expect(event.text).toBe(
      [
        'Геопозиция: 55.75, 37.61 https://www.openstreetmap.org/?mlat=55.75&mlon=37.61#map=16/55.75/37.61',
        'Контакт: Ivan Petrov, 79991234567',
        'Ссылка: Example — https://example.com/a',
      ].join('\n'),
    )
    expect(skipped).toEqual(['attachment:inline_keyboard', 'attachment:hologram'])
  })

  test('a pure forward carries the forwarded text', () => {
    const m = structuredClone(created) as unknown as Reshaped
    m.message.body.text = null
    m.message.link = { type: 'forward', message: { mid: 'mid.f', text: 'переслано', markup: [] } }
    const parsed = parseUpdate(m)
    if (parsed.kind !== 'handled') throw new Error('not handled')
    expect((mapUpdate(ctx, parsed.update).events[0] as RemoteMessageEvent).text).toBe(
      'Пересланное сообщение:\nпереслано',
    )
  })
})

describe('markupToBbCode', () => {
  test('styles, links and nesting', () => {
    expect(markupToBbCode('hello world', [{ type: 'strong', from: 0, length: 5, url: null }])).toBe(
      '[b]hello[/b] world',
    )
    expect(
      markupToBbCode('see site now', [{ type: 'link', from: 4, length: 4, url: 'https://example.com/x' }]),
    ).toBe('see [url=https://example.com/x]site[/url] now')
    // Overlapping spans are closed and reopened so the tags nest.
    expect(
      markupToBbCode('abcdef', [
        { type: 'strong', from: 0, length: 4, url: null },
        { type: 'emphasized', from: 2, length: 4, url: null },
      ]),
    ).toBe('[b]ab[i]cd[/i][/b][i]ef[/i]')
    expect(
      markupToBbCode('abcdef', [
        { type: 'underline', from: 0, length: 6, url: null },
        { type: 'strikethrough', from: 1, length: 2, url: null },
      ]),
    ).toBe('[u]a[s]bc[/s]def[/u]')
  })

  test('unsafe links, mentions and out-of-range spans stay plain', () => {
    expect(markupToBbCode('x', [{ type: 'link', from: 0, length: 1, url: 'javascript:alert(1)' }])).toBe('x')
    expect(markupToBbCode('@ann', [{ type: 'user_mention', from: 0, length: 4, url: null }])).toBe('@ann')
    expect(markupToBbCode('ab', [{ type: 'strong', from: 5, length: 3, url: null }])).toBe('ab')
    expect(markupToBbCode('q', [{ type: 'quote', from: 0, length: 1, url: null }])).toBe(
      `${'-'.repeat(54)}\nq\n${'-'.repeat(54)}`,
    )
  })
})

describe('attachments', () => {
  test('vCard: folded lines, escaped name, several phones', () => {
    expect(
      parseVcard('BEGIN:VCARD\nFN:Ivan\\, Jr\nTEL:+7 999\n 123\nTEL;TYPE=work:tel:+7888\nEND:VCARD'),
    ).toEqual({
      name: 'Ivan, Jr',
      phones: ['+7 999123', '+7888'],
    })
  })

  test('a file without URL is left out; a video with a token only is kept', () => {
    const read = readAttachments(
      [
        { type: 'file', payload: {} },
        { type: 'video', payload: { token: 'vt' } },
      ],
      noOpen,
    )
    expect(read.skipped).toEqual(['file:shape'])
    expect(read.files.map((f) => decodeFileRef(f.ref))).toEqual([{ type: 'video', token: 'vt' }])
    expect(decodeFileRef(toRemoteFileRef('not-base64-json'))).toBeUndefined()
  })
})

describe('splitText', () => {
  test('parts ≤ 4000 at paragraph, line or word breaks; nothing lost', () => {
    const words = Array.from({ length: 3000 }, (_, i) => `слово${i}`).join(' ')
    const parts = splitText(words)
    expect(parts.length).toBeGreaterThan(1)
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(4000)
    expect(parts.join(' ')).toBe(words)
    const paragraphs = `${'a'.repeat(3000)}\n\n${'b'.repeat(3000)}`
    expect(splitText(paragraphs)).toEqual(['a'.repeat(3000), 'b'.repeat(3000)])
    expect(splitText('short')).toEqual(['short'])
  })

  test('no cut inside a surrogate pair or after an escaping backslash', () => {
    const emoji = `${'x'.repeat(3999)}😀${'y'.repeat(10)}`
    const [first] = splitText(emoji)
    expect(first).toBe('x'.repeat(3999))
    const escaped = `${'x'.repeat(3999)}\\*${'y'.repeat(10)}`
    expect(splitText(escaped)[0]).toBe('x'.repeat(3999))
  })
})

describe('RequestBudget', () => {
  test('never more than perSecond starts in any 1 s window, in arrival order', async () => {
    let now = 0
    const budget = new RequestBudget(
      3,
      () => now,
      async (ms) => {
        now += ms
      },
    )
    const starts: number[] = []
    await Promise.all(
      Array.from({ length: 7 }, (_, i) => budget.take().then(() => starts.push(now * 10 + i))),
    )
    const times = starts.map((s) => Math.floor(s / 10))
    expect(starts.map((s) => s % 10)).toEqual([0, 1, 2, 3, 4, 5, 6])
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(3)
    expect(Math.max(...times)).toBe(2000)
  })
})

describe('uploads and polling helpers', () => {
  test('upload type by MIME and size; multipart field `data` streams the exact bytes', async () => {
    expect(uploadTypeFor({ mimeType: 'image/png', size: 10 })).toBe('image')
    expect(uploadTypeFor({ mimeType: 'image/png', size: 60 * 1024 * 1024 })).toBe('file')
    expect(uploadTypeFor({ mimeType: 'video/mp4' })).toBe('file')
    expect(uploadTypeFor({ mimeType: 'video/mp4', size: 1 })).toBe('video')
    expect(uploadTypeFor({ mimeType: 'application/pdf', size: 1 })).toBe('file')
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => i % 251)
    const body = multipartBody('b0undary', 'счёт "1".pdf', 'application/pdf', new Blob([bytes]).stream())
    const form = await new Response(body, {
      headers: { 'content-type': 'multipart/form-data; boundary=b0undary' },
    }).formData()
    const file = form.get('data') as File
    expect(file.name).toBe('счёт %221%22.pdf')
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(bytes)
  })

  test('the marker is read as text: int64 stays exact', () => {
    expect(markerOf('{"updates":[],"marker":116327994376978687}')).toBe('116327994376978687')
    expect(markerOf('{"updates":[],"marker":null}')).toBeUndefined()
  })
})

describe('configuration', () => {
  test('MAX_MODE: auto picks webhook only for public https on 443; webhook needs a public URL', () => {
    expect(loadConfig({}).max).toEqual({
      apiUrl: 'https://platform-api2.max.ru',
      caFile: undefined,
      mode: 'polling',
    })
    expect(loadConfig({ OLCHAT_PUBLIC_URL: 'https://olchat.example.ru' }).max.mode).toBe('webhook')
    expect(loadConfig({ OLCHAT_PUBLIC_URL: 'https://olchat.example.ru:8443' }).max.mode).toBe('polling')
    expect(loadConfig({ OLCHAT_PUBLIC_URL: 'http://olchat.example.ru', MAX_MODE: 'webhook' }).max.mode).toBe(
      'webhook',
    )
    expect(() => loadConfig({ MAX_MODE: 'webhook' })).toThrow('MAX_MODE: webhook needs OLCHAT_PUBLIC_URL')
    expect(() => loadConfig({ MAX_MODE: 'sometimes' })).toThrow(
      'MAX_MODE: must be one of auto, webhook, polling',
    )
    expect(loadConfig({ MAX_API_URL: 'http://127.0.0.1:9/' }).max.apiUrl).toBe('http://127.0.0.1:9')
  })
})
