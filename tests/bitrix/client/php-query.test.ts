import { describe, expect, test } from 'bun:test'
import { encodeBatchCommand, encodePhpQuery } from '../../../src/bitrix/client/php-query.ts'
import { parsePhpQuery } from './fake-portal.ts'

describe('PHP bracket query encoding of batch commands', () => {
  test('nested objects and lists use bracket keys (§4.2)', () => {
    expect(encodePhpQuery({ MESSAGES: [{ user: { id: 42 }, message: { text: 'Hi' } }] })).toBe(
      'MESSAGES[0][user][id]=42&MESSAGES[0][message][text]=Hi',
    )
  })

  test('scalars: strings escaped, booleans as 1/0, null empty, undefined and empty containers dropped', () => {
    const query = encodePhpQuery({
      text: 'a&b=c d+é',
      yes: true,
      no: false,
      nothing: null,
      skipped: undefined,
      empty: [],
      none: {},
      big: 12345678901234567890n,
      when: new Date('2030-01-02T03:04:05Z'),
    })
    expect(query).toBe(
      'text=a%26b%3Dc%20d%2B%C3%A9&yes=1&no=0&nothing=&big=12345678901234567890&when=2030-01-02T03%3A04%3A05.000Z',
    )
    expect(parsePhpQuery(query)).toEqual({
      text: 'a&b=c d+é',
      yes: '1',
      no: '0',
      nothing: '',
      big: '12345678901234567890',
      when: '2030-01-02T03:04:05.000Z',
    })
  })

  test('$result references stay readable for the portal', () => {
    expect(encodeBatchCommand('crm.lead.get', { id: '$result[a][ID]' })).toBe(
      'crm.lead.get?id=$result[a][ID]',
    )
  })

  test('keys with brackets or spaces are escaped inside the structure', () => {
    const query = encodePhpQuery({ FIELDS: { 'a[b]': 1, 'x y': 2 } })
    expect(query).toBe('FIELDS[a%5Bb%5D]=1&FIELDS[x%20y]=2')
  })

  test('a round trip through a PHP-style parser keeps the structure', () => {
    const params = {
      CONNECTOR: 'olchat_telegram',
      LINE: 3,
      MESSAGES: [{ chat: { id: 'c1' }, im: { chat_id: 7 } }],
    }
    const command = encodeBatchCommand('imconnector.send.status.delivery', params)
    const [method, query] = command.split('?')
    expect(method).toBe('imconnector.send.status.delivery')
    expect(parsePhpQuery(query!)).toEqual({
      CONNECTOR: 'olchat_telegram',
      LINE: '3',
      MESSAGES: { 0: { chat: { id: 'c1' }, im: { chat_id: '7' } } },
    })
  })

  test('no params: the bare method; unsupported values are refused', () => {
    expect(encodeBatchCommand('app.info')).toBe('app.info')
    expect(() => encodePhpQuery({ f: () => 1 })).toThrow(TypeError)
    expect(() => encodePhpQuery({ n: Number.NaN })).toThrow(TypeError)
  })
})
